"""The client seam: what a person's app or terminal says to a payment API, apart from Locust.

`transport` is the extension point (one request in, one answer out); `classify` reads an
answer as the catalogue's code; `gateway` speaks the mock gateway's contract and its retry and
resolve policy; `weak` is the weak mobile link as a transport wrapper. These modules import no
Locust or gevent, so tests drive them in-process with fake transports and clocks;
`gevent_transport` is the real transport the Locust users plug in.
"""
