# mypy: ignore-errors
DATABASE_URL = "mysql+pymysql://root:6HRvl2K5HmMHdt@10.0.4.12:3306/lims"
