"""Maps: where need is in the partnership and across England, and urban against rural."""

from ui.maps_page import render

render()
