"""Vectorised rANS (numpy only): the message, and the one seam that quantises probabilities."""
