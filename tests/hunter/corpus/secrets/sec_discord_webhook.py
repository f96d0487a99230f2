# mypy: ignore-errors
HOOK = "https://discord.com/api/webhooks/3966597844536591676/Iv086cunGRzCbrqFuZ9D_eZLrSRI3TSckRe8fO6mxhU_GY65NKo_DnyZE06Y0GuzZCPC"
