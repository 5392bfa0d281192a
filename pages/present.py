"""Presentation mode: one slide per outcome, continuity of care and the summary, for a
projector at a public board meeting. Public mode is forced on (see app.py), the area and
period are fixed when the presentation starts, and the sidebar and toolbar are hidden."""


from ui import frame, presentation

ctx = frame.context()
presentation.hide_chrome()
deck = presentation.start_or_resume(ctx)
slide_number = presentation.current_slide(len(deck.slides))
presentation.show_slide(deck, slide_number, ctx)
presentation.controls(deck, slide_number)
