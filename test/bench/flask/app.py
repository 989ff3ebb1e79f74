"""The seed: keygate's behaviour as a Flask app, the baseline `make bench`
measures the local server against. GET / answers {"message":"OK: Authorized"}
when the x-api-key header equals API_KEY, 401 {"message":"ERROR: Unauthorized"}
otherwise. Run under gunicorn with one worker per core:

    API_KEY=... gunicorn -w $(nproc) -b 127.0.0.1:8000 app:app
"""

import hmac
import os

from flask import Flask, jsonify, request

app = Flask(__name__)
API_KEY = os.environ["API_KEY"]


@app.route("/", methods=["GET"])
def index():
    presented = request.headers.get("x-api-key", "")
    # Constant-time, like keygate, so the comparison is like for like.
    if hmac.compare_digest(presented.encode(), API_KEY.encode()):
        return jsonify(message="OK: Authorized")
    return jsonify(message="ERROR: Unauthorized"), 401
