"""Accessibility statement: what meets WCAG 2.2 AA, the known exceptions, and how to ask
for the information in another format."""

from ui import accessibility, frame

ctx = frame.context()
accessibility.render(ctx.settings.partnership_name, ctx.settings.contact)
