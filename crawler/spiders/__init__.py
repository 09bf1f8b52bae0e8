"""The spiders: `site` (any site with report lists) and `gov` (government CMS columns).

Both only discover links; the item pipeline does everything with page content.
"""
