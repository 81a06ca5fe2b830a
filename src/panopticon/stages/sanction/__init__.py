"""Sanction: the blacklist and the catalog of rewards and punishments."""
