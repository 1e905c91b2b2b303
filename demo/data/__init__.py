"""Demo data, one module per step: people, shops, catalogue, chat, campaigns, extras; `seed` runs them all.

Idempotent: every row has a natural key (username, shop slug, product name per shop, SKU, message
client_id, campaign title per shop, Idempotency-Key), so a second run finds everything and stores nothing.
"""
