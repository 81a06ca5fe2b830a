"""Record: the credit record log, delays and appeals."""
