"""tests.system: real servers, private clusters, a browser, the tool chain."""
