"""The embedded default: the whole product on one machine, with no configuration and no network."""
