# mypy: ignore-errors
import aiohttp
from aiohttp import web


async def proxy(request: web.Request) -> web.Response:
    async with aiohttp.ClientSession() as session:
        async with session.get(request.query["url"]) as upstream:
            return web.Response(body=await upstream.read())
