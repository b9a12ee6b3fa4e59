# -*- coding: utf-8 -*-
"""The hello application: a small HTTP service of the standard library only.

    python3 /opt/hello/hello.py --config /etc/hello/hello.json

GET /ping answers 200 "ok" (the fleet's health check), GET /version the JSON {"name", "version"} of the image;
anything else is 404. The configuration file (written by the hello role at bake time) gives the name, the
version and the port. SIGTERM (the container's stop signal) stops it at once.
"""

import argparse
import http.server
import json
import signal
import sys


def load_config(path):
    """The settings of the service from its JSON configuration file."""
    with open(path, encoding='utf-8') as handle:
        config = json.load(handle)
    return {'name': str(config['name']), 'version': str(config['version']), 'port': int(config['port'])}


def make_handler(config):
    """A request handler class answering /ping and /version from ``config``."""
    version = json.dumps({'name': config['name'], 'version': config['version']}).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        """GET /ping and GET /version; HEAD of the same."""

        server_version = 'hello'
        sys_version = ''

        def _answer(self, status, body, content_type):
            self.send_response(status)
            self.send_header('Content-Type', content_type)
            self.send_header('Content-Length', str(len(body)))
            self.send_header('Cache-Control', 'no-store')
            self.end_headers()
            if self.command != 'HEAD':
                self.wfile.write(body)

        def do_GET(self):  # pylint: disable=invalid-name
            """Answer a GET request."""
            path = self.path.split('?', 1)[0]
            if path == '/ping':
                self._answer(200, b'ok', 'text/plain; charset=utf-8')
            elif path == '/version':
                self._answer(200, version, 'application/json')
            else:
                self._answer(404, b'not found', 'text/plain; charset=utf-8')

        do_HEAD = do_GET

        def log_message(self, format, *args):  # pylint: disable=redefined-builtin
            """One access log line per request on stdout (the container's log)."""
            sys.stdout.write('%s %s\n' % (self.address_string(), format % args))
            sys.stdout.flush()

    return Handler


def main(argv=None):
    """Serve until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(description='The hello service.')
    parser.add_argument('--config', default='/etc/hello/hello.json', help='JSON configuration file')
    config = load_config(parser.parse_args(argv).config)
    server = http.server.ThreadingHTTPServer(('', config['port']), make_handler(config))
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    sys.stdout.write('hello %s listening on port %d\n' % (config['version'], config['port']))
    sys.stdout.flush()
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
