# mypy: ignore-errors
import asyncio


async def run(command: str) -> int:
    proc = await asyncio.create_subprocess_shell(command)
    return await proc.wait()


asyncio.run(run(input("$ ")))
