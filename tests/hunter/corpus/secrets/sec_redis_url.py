# mypy: ignore-errors
import redis

cache = redis.Redis.from_url("redis://:kcCkG9amLcaWioLkpt8gR7YA@cache.lab.internal:6379/0")
