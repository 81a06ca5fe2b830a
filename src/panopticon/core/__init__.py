"""The core: module contract, registry, engine (the day loop), streams, population, metrics."""
