#!/usr/bin/env python3
"""Writes a synthetic app tree: FILES files of OBJECTS_PER_FILE documents each, a realistic mix
of kinds, waves, hooks and references. Usage: gen_tree.py DIR [FILES] [OBJECTS_PER_FILE]"""
import os
import sys

out = sys.argv[1]
files = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
per_file = int(sys.argv[3]) if len(sys.argv) > 3 else 10
os.makedirs(out, exist_ok=True)

DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{i}
  namespace: team-{ns}
  labels:
    app.kubernetes.io/name: app-{i}
  annotations:
    argocd.argoproj.io/sync-wave: "{wave}"
spec:
  replicas: 2
  selector:
    matchLabels:
      app.kubernetes.io/name: app-{i}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: app-{i}
    spec:
      serviceAccountName: sa-{ns}
      containers:
        - name: app
          image: registry.example.com/app:1.{i}
          envFrom:
            - configMapRef:
                name: config-{i}
            - secretRef:
                name: secret-{i}
          ports:
            - containerPort: 8080
          resources:
            requests: {{cpu: 100m, memory: 128Mi}}
"""
SERVICE = """apiVersion: v1
kind: Service
metadata:
  name: app-{i}
  namespace: team-{ns}
  annotations:
    argocd.argoproj.io/sync-wave: "{wave}"
spec:
  selector:
    app.kubernetes.io/name: app-{i}
  ports:
    - port: 80
      targetPort: 8080
"""
CONFIG = """apiVersion: v1
kind: ConfigMap
metadata:
  name: config-{i}
  namespace: team-{ns}
  annotations:
    argocd.argoproj.io/sync-wave: "-1"
data:
  LOG_LEVEL: info
  UPSTREAM: http://{upstream}.team-{ns}.svc:80
"""
SECRET = """apiVersion: v1
kind: Secret
metadata:
  name: secret-{i}
  namespace: team-{ns}
  annotations:
    argocd.argoproj.io/sync-wave: "-1"
type: Opaque
stringData:
  password: s3cr3t-{i}
"""
JOB = """apiVersion: batch/v1
kind: Job
metadata:
  generateName: migrate-{i}-
  namespace: team-{ns}
  annotations:
    argocd.argoproj.io/hook: PreSync
    argocd.argoproj.io/hook-delete-policy: BeforeHookCreation,HookSucceeded
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: registry.example.com/migrate:1.{i}
"""
# Each half of a file is one app: Deployment, Service, ConfigMap, Secret, migration Job that
# reference each other by name, so the dependency graph has real edges.
KINDS = [CONFIG, SECRET, SERVICE, DEPLOY, JOB]

n = 0
for f in range(files):
    ns = f % 20
    docs = []
    for d in range(per_file):
        template = KINDS[d % len(KINDS)]
        app = n // len(KINDS)
        # Apps come in chains of three (waves 1, 2, 3), each calling the previous one by DNS name.
        upstream = f"app-{app - 1}" if app % 3 else "payments-gateway"
        docs.append(template.format(i=app, upstream=upstream, ns=ns, wave=1 + app % 3))
        n += 1
    with open(os.path.join(out, f"f{f:04}.yaml"), "w") as fh:
        fh.write("---\n".join(docs))
print(f"{n} objects in {files} files under {out}", file=sys.stderr)
