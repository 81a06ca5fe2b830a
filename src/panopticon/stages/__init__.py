"""The stages of one day: one subpackage per stage; `builtin` registers them all."""
