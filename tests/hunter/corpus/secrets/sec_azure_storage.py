# mypy: ignore-errors
CONN = "DefaultEndpointsProtocol=https;AccountName=labdata;AccountKey=bE05RqgIJNcAcx404FpSuChS7I8q670x9lpVLYp63+XnvEdXYzNMB1IgFOlP1EYm7fdAYalxpZT59vz1UWTQYh==;EndpointSuffix=core.windows.net"
