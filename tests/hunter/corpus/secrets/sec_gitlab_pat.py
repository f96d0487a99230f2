# mypy: ignore-errors
import gitlab

gl = gitlab.Gitlab("https://gitlab.com", private_token="glpat-F1U6RYeyaHE0gZXOCI6W")
