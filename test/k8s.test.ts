/**
 * deploy/k8s/ without a cluster: the manifests' own shape is checked from the files (every manifest
 * listed in its kustomization, probes, resources, non-root and read-only containers, secrets only by
 * reference, the optional ones (encryption keys, Temporal API key, mTLS files) optional, worker grace
 * of at least SHUTDOWN_GRACE + 20 s, budgets, the search attributes Job and the annotations that let
 * Argo CD and Flux recreate it, TRAY_EMBEDDED_ID set by the overlay only), then the base and the
 * example overlay are rendered with `kubectl kustomize` and validated offline against the Kubernetes
 * OpenAPI schemas with `kubernetes-validate` (from the Python package index; .ci/run installs both).
 * On CI a missing tool fails the test; elsewhere that part is skipped, saying how to install it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  accessSync,
  constants,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { SEARCH_ATTRIBUTE_NAMES } from '../common/messages.js';
import { PROJECT_ROOT } from '../dev/temporal-bin.js';
import { loadApiConfig } from '../api/config.js';
import { DRAIN_MS } from '../api/temporal-rpc.js';
import { FLUSH_TIMEOUT_MS } from '../lib/tracing.js';
import { loadWorkerConfig } from '../worker/config.js';
import { SHUTDOWN_FORCE_MARGIN_MS } from '../worker/shutdown.js';

const K8S = join(PROJECT_ROOT, 'deploy', 'k8s');
const BASE = join(K8S, 'base');
const OVERLAY = join(K8S, 'overlays', 'example');
/** Kubernetes releases the manifests must be valid for: the oldest still commonly run, and a current one. */
const KUBERNETES_VERSIONS = ['1.31.0', '1.34.0'];
/** Environment variable names whose values are secrets: only ever read from a Secret. */
const SECRET_NAME = /TOKEN|SECRET|PASSWORD|_KEY|KEYS$/;

/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects, checked field by field */
type K8sObject = Record<string, any>;

interface Kustomization {
  resources?: string[];
  configMapGenerator?: { name: string; literals?: string[]; files?: string[] }[];
  images?: { name: string; newName?: string; newTag?: string }[];
}

const kustomization = parse(readFileSync(join(BASE, 'kustomization.yaml'), 'utf8')) as Kustomization;
const manifests: K8sObject[] = (kustomization.resources ?? []).flatMap((file) =>
  parseAllDocuments(readFileSync(join(BASE, file), 'utf8')).map((doc) => doc.toJS() as K8sObject),
);
const byKind = (kind: string) => manifests.filter((m) => m.kind === kind);
const deployment = (component: string): K8sObject => {
  const found = byKind('Deployment').find(
    (d) => d.metadata.labels['app.kubernetes.io/component'] === component,
  );
  assert.ok(found, `a Deployment for the ${component}`);
  return found;
};
const podSpecs = () =>
  [...byKind('Deployment'), ...byKind('Job')].map((w) => w.spec.template.spec as K8sObject);

/** A kustomization's connect-saga-config literals as an environment. */
function literalsOf(k: Kustomization): Record<string, string> {
  const generator = k.configMapGenerator?.find((g) => g.name === 'connect-saga-config');
  assert.ok(generator?.literals, 'connect-saga-config is generated from literals');
  return Object.fromEntries(
    generator.literals.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

/** The base ConfigMap's literals as an environment. */
const configEnv = () => literalsOf(kustomization);

/** The example overlay's literals merged over the base's, as shipped (TRAY_EMBEDDED_ID blank). */
function shippedOverlayEnv(): Record<string, string> {
  const overlay = parse(readFileSync(join(OVERLAY, 'kustomization.yaml'), 'utf8')) as Kustomization;
  return { ...configEnv(), ...literalsOf(overlay) };
}

/** What the example overlay's pods see once the operator filled in TRAY_EMBEDDED_ID. */
const overlayEnv = (): Record<string, string> => ({
  ...shippedOverlayEnv(),
  TRAY_EMBEDDED_ID: 'emb-filled-in',
});

function seconds(duration: string): number {
  const match = /^(\d+)(s|m)$/.exec(duration);
  assert.ok(match, `a duration in s or m: ${duration}`);
  return Number(match[1]) * (match[2] === 'm' ? 60 : 1);
}

describe('deploy/k8s manifests', () => {
  test('each kustomization lists every manifest file in its folder, and every file it lists exists', () => {
    for (const dir of [BASE, OVERLAY]) {
      const k = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Kustomization;
      const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml');
      const listed = (k.resources ?? []).filter((r) => /\.ya?ml$/.test(r));
      assert.deepEqual([...listed].sort(), [...files].sort(), `${dir}: resources`);
    }
    const generated = (kustomization.configMapGenerator ?? []).flatMap((g) => g.files ?? []);
    const scripts = readdirSync(BASE).filter((f) => f.endsWith('.sh'));
    assert.deepEqual(generated.sort(), scripts.sort(), 'every script is in a ConfigMap');
  });

  test('the worker and the API run one image, the compiled entries, as in docker-compose.yml', () => {
    const [worker, api] = [deployment('worker'), deployment('api')];
    const container = (d: K8sObject) => d.spec.template.spec.containers[0] as K8sObject;
    assert.equal(container(worker).image, 'connect-saga');
    assert.equal(container(api).image, 'connect-saga');
    assert.deepEqual(container(worker).command, ['node', 'dist/worker/main.js']);
    assert.deepEqual(container(api).command, ['node', 'dist/api/main.js']);
    const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string };
    const image = kustomization.images?.find((i) => i.name === 'connect-saga');
    assert.equal(image?.newTag, pkg.version, "the base pins the image to the package's version");
  });

  test('every container has probes (except the Job), resources, and a non-root read-only securityContext', () => {
    for (const pod of podSpecs()) {
      assert.equal(pod.securityContext?.runAsNonRoot, true);
      assert.ok(pod.securityContext?.runAsUser > 0, 'a non-root uid');
      assert.equal(pod.automountServiceAccountToken, false);
      const tmpVolume = (pod.volumes as K8sObject[]).find((v) => v.emptyDir !== undefined);
      for (const c of pod.containers as K8sObject[]) {
        const isJob = pod.restartPolicy !== undefined;
        if (!isJob) {
          assert.ok(c.livenessProbe?.httpGet, `${c.name}: liveness probe`);
          assert.ok(c.readinessProbe?.httpGet, `${c.name}: readiness probe`);
        }
        assert.ok(c.resources?.requests?.memory && c.resources?.requests?.cpu, `${c.name}: requests`);
        assert.ok(c.resources?.limits?.memory, `${c.name}: memory limit`);
        assert.equal(c.securityContext?.readOnlyRootFilesystem, true, `${c.name}: read-only root`);
        assert.equal(c.securityContext?.allowPrivilegeEscalation, false, `${c.name}: no escalation`);
        assert.deepEqual(c.securityContext?.capabilities?.drop, ['ALL'], `${c.name}: no capabilities`);
        const tmp = (c.volumeMounts as K8sObject[]).find((m) => m.mountPath === '/tmp');
        assert.equal(tmp?.name, tmpVolume?.name, `${c.name}: a writable emptyDir on /tmp`);
      }
    }
  });

  test('the example Namespace enforces the restricted Pod Security Standard, which every pod meets', () => {
    const namespace = parse(readFileSync(join(OVERLAY, 'namespace.yaml'), 'utf8')) as K8sObject;
    assert.equal(namespace.metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');
    // The rest of "restricted" beyond the checks above: a seccomp profile, and only these volume kinds.
    for (const pod of podSpecs()) {
      assert.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault');
      for (const volume of pod.volumes as K8sObject[]) {
        const kinds = Object.keys(volume).filter((key) => key !== 'name');
        assert.ok(
          kinds.every((kind) => ['emptyDir', 'configMap', 'secret', 'projected'].includes(kind)),
          `volume ${volume.name}: ${kinds.join(', ')}`,
        );
      }
    }
  });

  test('the replicas of each Deployment spread over nodes where the cluster has several', () => {
    for (const d of byKind('Deployment')) {
      const [spread] = d.spec.template.spec.topologySpreadConstraints as K8sObject[];
      assert.equal(spread?.topologyKey, 'kubernetes.io/hostname', d.metadata.name);
      assert.equal(spread?.whenUnsatisfiable, 'ScheduleAnyway', 'a one-node cluster still schedules them');
      assert.deepEqual(spread?.labelSelector?.matchLabels, d.spec.selector.matchLabels);
    }
  });

  test('probes: the API on /healthz and /readyz, the worker on /healthz and /readyz at its HEALTH_PORT', () => {
    const api = deployment('api').spec.template.spec.containers[0] as K8sObject;
    assert.equal(api.livenessProbe.httpGet.path, '/healthz');
    assert.equal(api.readinessProbe.httpGet.path, '/readyz');
    const worker = deployment('worker').spec.template.spec.containers[0] as K8sObject;
    assert.equal(worker.livenessProbe.httpGet.path, '/healthz');
    assert.equal(worker.readinessProbe.httpGet.path, '/readyz');
    for (const probe of [worker.livenessProbe, worker.readinessProbe]) {
      const port = (worker.ports as K8sObject[]).find((p) => p.name === probe.httpGet.port);
      assert.equal(String(port?.containerPort), configEnv().HEALTH_PORT, 'probed on HEALTH_PORT');
    }
  });

  test('Prometheus annotations name each pod metrics port and path', () => {
    const expectations = { api: configEnv().API_PORT, worker: configEnv().METRICS_PORT };
    for (const [component, port] of Object.entries(expectations)) {
      const template = deployment(component).spec.template as K8sObject;
      const annotations = template.metadata.annotations as Record<string, string>;
      assert.equal(annotations['prometheus.io/scrape'], 'true');
      assert.equal(annotations['prometheus.io/port'], port, `${component}: metrics port`);
      assert.equal(annotations['prometheus.io/path'], '/metrics');
      const ports = (template.spec.containers[0].ports as K8sObject[]).map((p) => String(p.containerPort));
      assert.ok(ports.includes(port ?? ''), `${component}: port ${port} declared`);
    }
  });

  test('secrets come only from the Secret, by reference; the ConfigMap holds none', () => {
    for (const name of Object.keys(configEnv()))
      assert.doesNotMatch(name, SECRET_NAME, `${name} in the ConfigMap`);
    assert.equal(byKind('Secret').length, 0, 'no Secret object in the base');
    for (const pod of podSpecs()) {
      for (const c of pod.containers as K8sObject[]) {
        for (const e of (c.env ?? []) as K8sObject[]) {
          if (!SECRET_NAME.test(e.name)) continue;
          assert.equal(e.value, undefined, `${c.name}: ${e.name} is not inline`);
          assert.equal(
            e.valueFrom?.secretKeyRef?.name,
            'connect-saga-secrets',
            `${c.name}: ${e.name} from the Secret`,
          );
        }
      }
    }
    const envOf = (component: string) =>
      (deployment(component).spec.template.spec.containers[0].env as K8sObject[]).map(
        (e) => e.name as string,
      );
    assert.ok(envOf('worker').includes('TRAY_MASTER_TOKEN'));
    assert.ok(!envOf('worker').includes('API_TOKEN'), 'each process gets only the secrets it reads');
    assert.ok(envOf('api').includes('API_TOKEN'));
    assert.ok(!envOf('api').includes('TRAY_MASTER_TOKEN'));
  });

  test("the overlay's ConfigMap plus the Secret's keys pass the worker's and the API's config loaders", () => {
    const env = overlayEnv();
    const worker = loadWorkerConfig({ ...env, TRAY_MASTER_TOKEN: 'mt_example' });
    assert.equal(worker.temporalAddress, env.TEMPORAL_ADDRESS);
    const api = loadApiConfig({ ...env, API_TOKEN: 'api-token-example' });
    assert.equal(String(api.port), env.API_PORT);
  });

  test('TRAY_EMBEDDED_ID comes only from the overlay, blank: a worker not given one exits naming it', () => {
    assert.ok(!('TRAY_EMBEDDED_ID' in configEnv()), 'no placeholder in the base');
    // Listed for the operator to fill in, but blank: a made-up placeholder would start a worker whose
    // every saga then fails at Tray.
    assert.equal(shippedOverlayEnv().TRAY_EMBEDDED_ID, '', 'the example overlay leaves it to fill in');
    for (const env of [configEnv(), shippedOverlayEnv()]) {
      assert.throws(() => loadWorkerConfig({ ...env, TRAY_MASTER_TOKEN: 'mt_example' }), /TRAY_EMBEDDED_ID/);
    }
  });

  test('termination grace: SHUTDOWN_GRACE + 23 s (worker), the preStop pause, the drain and the trace flush (API)', () => {
    const worker = deployment('worker').spec.template.spec as K8sObject;
    // The worker exits at the latest SHUTDOWN_FORCE_MARGIN_MS after the grace, then flushes traces for
    // up to FLUSH_TIMEOUT_MS; 5 s more to spare.
    const grace = seconds(configEnv().SHUTDOWN_GRACE ?? '');
    const needed = grace + SHUTDOWN_FORCE_MARGIN_MS / 1000 + FLUSH_TIMEOUT_MS / 1000 + 5;
    assert.equal(needed, grace + 23);
    assert.ok(
      worker.terminationGracePeriodSeconds >= needed,
      `worker terminationGracePeriodSeconds ${worker.terminationGracePeriodSeconds} ≥ ${needed}`,
    );
    const api = deployment('api').spec.template.spec as K8sObject;
    const pause = Number(api.containers[0].lifecycle?.preStop?.exec?.command?.at(-1) ?? 0);
    assert.ok(api.terminationGracePeriodSeconds > pause + (DRAIN_MS + FLUSH_TIMEOUT_MS) / 1000);
  });

  test('optional secrets (encryption keys, Temporal API key, trace headers) are optional references; the required ones are not', () => {
    const secretRefs = (pod: K8sObject) =>
      Object.fromEntries(
        ((pod.containers[0].env ?? []) as K8sObject[])
          .filter((e) => e.valueFrom?.secretKeyRef)
          .map((e) => [e.name as string, e.valueFrom.secretKeyRef as K8sObject]),
      );
    const worker = secretRefs(deployment('worker').spec.template.spec as K8sObject);
    const api = secretRefs(deployment('api').spec.template.spec as K8sObject);
    for (const refs of [worker, api]) {
      for (const name of ['PAYLOAD_ENCRYPTION_KEYS', 'TEMPORAL_API_KEY', 'OTEL_EXPORTER_OTLP_HEADERS']) {
        assert.equal(refs[name]?.key, name, `${name} from the Secret`);
        assert.equal(refs[name]?.optional, true, `${name} is optional`);
      }
    }
    assert.equal(worker.TRAY_MASTER_TOKEN?.optional, undefined, 'TRAY_MASTER_TOKEN is required');
    assert.equal(api.API_TOKEN?.optional, undefined, 'API_TOKEN is required');
    const [job] = byKind('Job');
    assert.equal(secretRefs(job?.spec.template.spec).TEMPORAL_API_KEY?.optional, true, 'the Job too');
  });

  test('CODEC_API_TOKEN: an optional reference, in the API alone', () => {
    const refOf = (component: string) =>
      (deployment(component).spec.template.spec.containers[0].env as K8sObject[]).find(
        (e) => e.name === 'CODEC_API_TOKEN',
      );
    assert.deepEqual(refOf('api')?.valueFrom?.secretKeyRef, {
      name: 'connect-saga-secrets',
      key: 'CODEC_API_TOKEN',
      optional: true,
    });
    assert.equal(refOf('worker'), undefined);
  });

  test('mTLS files: every pod mounts the optional Secret read-only where the overlay points TEMPORAL_TLS_*', () => {
    const mountPaths = new Set<string>();
    for (const pod of podSpecs()) {
      const volume = (pod.volumes as K8sObject[]).find(
        (v) => v.secret?.secretName === 'connect-saga-temporal-tls',
      );
      assert.ok(volume, 'the TLS Secret is a volume');
      assert.equal(volume.secret.optional, true, 'optional: pods start without it (API key or plaintext)');
      assert.ok(pod.securityContext?.fsGroup > 0, 'files readable by the non-root user through fsGroup');
      const mount = (pod.containers[0].volumeMounts as K8sObject[]).find((m) => m.name === volume.name);
      assert.equal(mount?.readOnly, true);
      mountPaths.add(mount?.mountPath);
    }
    assert.equal(mountPaths.size, 1, 'one path in every pod');
    const [path] = [...mountPaths];
    const overlay = readFileSync(join(OVERLAY, 'kustomization.yaml'), 'utf8');
    for (const name of ['CLIENT_CERT', 'CLIENT_KEY', 'SERVER_CA_CERT'])
      assert.match(overlay, new RegExp(`TEMPORAL_TLS_${name}_PATH=${path}/`), `the overlay shows ${name}`);
  });

  test('the worker binds its metrics on the pod IP; tracing is off until the overlay sets an endpoint', () => {
    const env = overlayEnv();
    assert.equal(env.METRICS_HOST, '0.0.0.0');
    const off = loadWorkerConfig({ ...env, TRAY_MASTER_TOKEN: 'mt_example' });
    assert.equal(off.metricsHost, '0.0.0.0');
    assert.equal(off.otlpEndpoint, undefined);
    assert.equal(loadApiConfig({ ...env, API_TOKEN: 'api-token-example' }).otlpEndpoint, undefined);
    const endpoint = 'http://otel-collector.observability:4318';
    const on = loadWorkerConfig({ ...env, TRAY_MASTER_TOKEN: 'mt', OTEL_EXPORTER_OTLP_ENDPOINT: endpoint });
    assert.equal(on.otlpEndpoint, endpoint);
  });

  test('a PodDisruptionBudget per Deployment, selecting its pods; the Service selects the API', () => {
    for (const d of byKind('Deployment')) {
      const labels = d.spec.template.metadata.labels as Record<string, string>;
      assert.deepEqual(d.spec.selector.matchLabels, labels, `${d.metadata.name}: selector`);
      const pdb = byKind('PodDisruptionBudget').find(
        (p) => JSON.stringify(p.spec.selector.matchLabels) === JSON.stringify(labels),
      );
      assert.ok(pdb, `${d.metadata.name}: a PodDisruptionBudget`);
      assert.ok(
        d.spec.replicas > (pdb.spec.minAvailable ?? 0),
        `${d.metadata.name}: the budget allows a drain`,
      );
    }
    const [service] = byKind('Service');
    assert.deepEqual(service?.spec.selector, deployment('api').spec.template.metadata.labels);
    assert.equal(service?.spec.ports[0].targetPort, 'http');
  });

  test('the Job creates every search attribute as Keyword, with the compose script, on admin-tools', () => {
    const [job] = byKind('Job');
    assert.ok(job, 'a Job');
    const container = job.spec.template.spec.containers[0] as K8sObject;
    const compose = parse(readFileSync(join(PROJECT_ROOT, 'docker-compose.yml'), 'utf8')) as K8sObject;
    assert.equal(container.image, compose.services['temporal-setup'].image, "compose's admin-tools release");
    const script = readFileSync(join(BASE, 'setup-search-attributes.sh'), 'utf8');
    const original = readFileSync(join(PROJECT_ROOT, 'deploy', 'setup-search-attributes.sh'), 'utf8');
    assert.equal(script, original, 'deploy/k8s/base/setup-search-attributes.sh is a copy of deploy/');
    assert.ok(container.command.join(' ').includes('setup-search-attributes.sh'));
    const listed = /^ATTRIBUTES="([^"]*)"/m.exec(script)?.[1]?.split(/\s+/) ?? [];
    assert.deepEqual([...listed].sort(), [...SEARCH_ATTRIBUTE_NAMES].sort());
    const cloudStep = readFileSync(join(BASE, 'search-attributes-job.yaml'), 'utf8');
    assert.match(cloudStep, /tcld namespace search-attributes add/);
    for (const name of SEARCH_ATTRIBUTE_NAMES) assert.match(cloudStep, new RegExp(`${name}=Keyword`));
  });

  test('GitOps tools recreate the Job, whose template changes with every config change', () => {
    const [job] = byKind('Job');
    assert.deepEqual(job?.metadata.annotations, {
      'argocd.argoproj.io/hook': 'Sync',
      'argocd.argoproj.io/hook-delete-policy': 'BeforeHookCreation',
      'kustomize.toolkit.fluxcd.io/force': 'enabled',
    });
    // Plain kubectl cannot: the docs delete the Job, by its real name, before the apply.
    const docs = readFileSync(join(PROJECT_ROOT, 'docs', 'deployment.md'), 'utf8');
    const deleteJob = `kubectl -n connect-saga delete job ${job?.metadata.name} --ignore-not-found`;
    assert.ok(docs.includes(deleteJob), `docs/deployment.md: ${deleteJob}`);
  });
});

/** A tool from PATH or the project's .tools/ (where .ci/run installs kubernetes-validate). */
function findTool(name: string, ...candidates: string[]): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const path of [...candidates, ...dirs.map((d) => join(d, name))]) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // next
    }
  }
  return undefined;
}
// .ci/run builds kustomize into .tools/ only where kubectl's own is too old (Debian's 1.20).
const kustomize = findTool('kustomize', join(PROJECT_ROOT, '.tools', 'kustomize', 'bin', 'kustomize'));
const kubectl = kustomize ?? findTool('kubectl');
const renderArgs = (root: string) => (kustomize ? ['build', root] : ['kustomize', root]);
const validator = findTool(
  'kubernetes-validate',
  join(PROJECT_ROOT, '.tools', 'kubernetes-validate', 'bin', 'kubernetes-validate'),
);
const missing = [
  kubectl ? '' : 'kubectl (Debian: kubernetes-client)',
  validator ? '' : 'kubernetes-validate',
].filter(Boolean);
const skip =
  missing.length > 0 && !process.env.CI
    ? `not installed here: ${missing.join(', ')}; .ci/run installs them (apt-get install kubernetes-client; ` +
      'python3 -m venv .tools/kubernetes-validate and pip install kubernetes-validate there)'
    : false;

describe('deploy/k8s rendered and validated offline', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'connect-saga-k8s-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const [label, root] of [
    ['base', BASE],
    ['overlays/example', OVERLAY],
  ] as const) {
    test(`${label}: kustomize renders it and kubernetes-validate --strict accepts every object`, () => {
      assert.deepEqual(
        missing,
        [],
        `CI is set, so these must be installed (see .ci/run): ${missing.join(', ')}`,
      );
      const rendered = spawnSync(kubectl as string, renderArgs(root), { encoding: 'utf8' });
      assert.equal(rendered.status, 0, rendered.stderr);
      const objects = parseAllDocuments(rendered.stdout).map((d) => d.toJS() as K8sObject);
      const kinds = objects.map((o) => o.kind as string).sort();
      for (const kind of ['ConfigMap', 'Deployment', 'Job', 'PodDisruptionBudget', 'Service']) {
        assert.ok(kinds.includes(kind), `renders a ${kind}`);
      }
      // The generated ConfigMap's hashed name is what the workloads reference.
      const configMap = objects.find(
        (o) => o.kind === 'ConfigMap' && /^connect-saga-config-/.test(o.metadata.name),
      );
      assert.ok(configMap, 'the generated ConfigMap');
      for (const w of objects.filter((o) => o.kind === 'Deployment' || o.kind === 'Job')) {
        assert.equal(
          w.spec.template.spec.containers[0].envFrom[0].configMapRef.name,
          configMap.metadata.name,
        );
      }
      const file = join(dir, `${label.replace('/', '-')}.yaml`);
      writeFileSync(file, rendered.stdout);
      for (const version of KUBERNETES_VERSIONS) {
        const result = spawnSync(validator as string, ['--strict', '--quiet', '-k', version, file], {
          encoding: 'utf8',
        });
        assert.equal(result.status, 0, `Kubernetes ${version}:\n${result.stdout}${result.stderr}`);
      }
      // Only the overlay sets TRAY_EMBEDDED_ID, so a forgotten one stops the worker at start.
      assert.equal(
        configMap.data.TRAY_EMBEDDED_ID !== undefined,
        label === 'overlays/example',
        'TRAY_EMBEDDED_ID only in the overlay',
      );
      if (label === 'overlays/example') {
        const images = objects
          .flatMap((o) => o.spec?.template?.spec?.containers ?? [])
          .map((c: K8sObject) => c.image);
        assert.ok(images.includes('registry.example.com/connect-saga:0.1.0'), 'the overlay sets the image');
        assert.ok(objects.every((o) => o.kind === 'Namespace' || o.metadata.namespace === 'connect-saga'));
      }
    });
  }

  test('the validation is not vacuous: a misspelt field is rejected', () => {
    assert.deepEqual(
      missing,
      [],
      `CI is set, so these must be installed (see .ci/run): ${missing.join(', ')}`,
    );
    const file = join(dir, 'broken.yaml');
    const broken = structuredClone(deployment('api'));
    broken.spec.template.spec.containers[0].livenesProbe = { httpGet: { path: '/healthz', port: 3000 } };
    writeFileSync(file, JSON.stringify(broken));
    const result = spawnSync(
      validator as string,
      ['--strict', '--quiet', '-k', KUBERNETES_VERSIONS[0] as string, file],
      {
        encoding: 'utf8',
      },
    );
    assert.notEqual(result.status, 0, 'kubernetes-validate --strict rejects livenesProbe');
  });
});
