"""Telling people: the outbox and its deliveries (webhooks, SMS), area alerts, followers."""
