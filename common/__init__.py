"""Plumbing shared by every app: htmx helpers, task enqueueing, spreadsheet safety, template
tags. It imports no app of this project, so any app may import it and no circle can form
through it."""
