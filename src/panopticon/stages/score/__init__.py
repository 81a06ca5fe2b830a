"""Score: the policies that turn records into scores, grades and list entries."""
