# mypy: ignore-errors
from IPython.display import HTML, display

display(HTML("<b>Training finished.</b> See the <i>metrics</i> tab."))
