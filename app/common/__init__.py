"""Small pieces every domain module shares: column types, the clock, errors."""
