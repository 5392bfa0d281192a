"""What needs attention: every metric flagged by a statistical rule, and what improved."""

from ui import exceptions_page

exceptions_page.render()
