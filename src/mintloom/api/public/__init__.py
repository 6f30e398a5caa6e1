"""The public web pages: the verify page and the pages of assets marked public (no login)."""
