"""Transports: how the SDK reaches the SQL API (psycopg to Postgres, or supabase-py to Supabase)."""
