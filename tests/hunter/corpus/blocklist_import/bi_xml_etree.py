# mypy: ignore-errors
import sys
import xml.etree.ElementTree as ET

tree = ET.parse(sys.argv[1])
for sample in tree.getroot().iter("sample"):
    print(sample.get("id"))
