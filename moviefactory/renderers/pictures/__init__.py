"""Renderers of real pictures: the user's media, stock libraries, image servers."""
