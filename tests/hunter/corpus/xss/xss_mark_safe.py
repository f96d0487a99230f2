# mypy: ignore-errors
from django.utils.safestring import mark_safe


def render_comment(comment):
    return mark_safe(f"<div class='comment'>{comment.body}</div>")
