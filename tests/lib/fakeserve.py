"""fakeserve -- the one main of the fake servers, tests/fake_upstream.py and
tests/fake_hub.py: --port/--bind/--portfile, SIGTERM and SIGINT, and
serve_forever until told to stop.  Stdlib only; the JSON client for their
/__ control endpoints is yth.FakeServer."""

import argparse
import os
import signal
import threading
from http.server import ThreadingHTTPServer


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def arg_parser(doc):
    """An ArgumentParser described by the first line of doc, with --port
    (0: any free port), --bind and --portfile; a fake adds its own options."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--bind", default="127.0.0.1")
    ap.add_argument("--portfile")
    return ap


def serve(srv, stop, portfile=None):
    """Serve srv until stop (a threading.Event) is set, by SIGTERM, SIGINT
    or the fake itself; return the exit status.  The port is announced once
    srv listens: written to portfile (through a rename, so that a reader
    never sees half a number), or printed."""
    def on_signal(signum, frame):
        stop.set()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True)
    t.start()
    port = srv.server_address[1]
    if portfile:
        tmp = portfile + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, portfile)
    else:
        print(port, flush=True)
    while not stop.wait(1.0):
        pass
    srv.shutdown()
    srv.server_close()
    return 0
