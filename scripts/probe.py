"""Send GET requests to a URL on loopback and count the failed ones: what a user of the fleet would see.

    python3 scripts/probe.py --url http://127.0.0.1:8080/version --stop-file .state/probe.stop --out result.json

Runs until the stop file appears, --duration seconds pass, or --max-requests requests were sent (all bounded).
A request fails on a connection error, a timeout or a status other than 2xx. The summary (JSON) counts requests,
failures, their reasons and the versions seen (from /version's JSON), in the order they first appeared.
"""

import argparse
import http.client
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def probe(url, duration, max_requests, interval, timeout, stop_file=None):
    host = urllib.parse.urlparse(url).hostname
    if host not in ('127.0.0.1', 'localhost', '::1'):
        raise SystemExit('probe: only loopback URLs are allowed, got %s' % url)
    summary = {'url': url, 'requests': 0, 'failed': 0, 'reasons': {}, 'versions': [], 'seconds': 0.0}
    started = time.monotonic()
    while summary['requests'] < max_requests and time.monotonic() - started < duration:
        if stop_file and os.path.exists(stop_file):
            break
        summary['requests'] += 1
        reason = None
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                body = response.read()
                if not 200 <= response.status < 300:
                    reason = 'HTTP %d' % response.status
                else:
                    try:
                        version = json.loads(body.decode()).get('version')
                    except (ValueError, AttributeError):
                        version = None
                    if version and version not in summary['versions']:
                        summary['versions'].append(version)
        except urllib.error.HTTPError as exc:
            reason = 'HTTP %d' % exc.code
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            reason = type(getattr(exc, 'reason', exc)).__name__
        if reason:
            summary['failed'] += 1
            summary['reasons'][reason] = summary['reasons'].get(reason, 0) + 1
        time.sleep(interval)
    summary['seconds'] = round(time.monotonic() - started, 1)
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--url', default='http://127.0.0.1:8080/version')
    parser.add_argument('--duration', type=float, default=600, help='seconds at most (default 600)')
    parser.add_argument('--max-requests', type=int, default=100000, help='requests at most (default 100000)')
    parser.add_argument('--interval', type=float, default=0.02, help='pause between requests (default 0.02 s)')
    parser.add_argument('--timeout', type=float, default=5, help='timeout of one request (default 5 s)')
    parser.add_argument('--stop-file', help='stop as soon as this file exists')
    parser.add_argument('--out', help='write the JSON summary here as well as to stdout')
    args = parser.parse_args(argv)
    summary = probe(args.url, args.duration, args.max_requests, args.interval, args.timeout, args.stop_file)
    text = json.dumps(summary, indent=2)
    if args.out:
        with open(args.out, 'w') as handle:
            handle.write(text + '\n')
    print(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
