"""The shop's information pages: terms of sale, delivery and returns, privacy, contact."""
