"""The stages of one day: behave, observe, identify, record, score, sanction, society."""
