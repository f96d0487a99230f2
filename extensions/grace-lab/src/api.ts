/**
 * Typed calls to Grace's REST API (`<base_url>/grace/api/...`), see docs/server_api.md.
 *
 * Requests go through JupyterLab's ServerConnection, so the token, cookies and
 * XSRF header are JupyterLab's own. Errors become `GraceApiError` with the
 * server's message and hint.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

export type Severity = 'low' | 'medium' | 'high' | 'critical';
export const SEVERITIES: readonly Severity[] = ['low', 'medium', 'high', 'critical'];

export interface IMe {
  name: string;
  principal: string;
  role: string | null;
  roles_enabled: boolean;
  can: { read: boolean; write: boolean; approve: boolean; admin: boolean };
}

export interface IAlert {
  id: string;
  rule_id: string;
  severity: Severity;
  source: string;
  title: string;
  location: string;
  evidence: string;
  state: string;
  count: number;
  last_seen: number;
  changed_by: string | null;
}

export interface IApproval {
  id: string;
  action: { kind: string; resource: string; [key: string]: unknown };
  requester: string;
  person: string | null;
  policy_ids: string[];
  reasons: string[];
  created_at: number;
  expires_at: number;
  state: string;
  decided_by: string | null;
  note: string | null;
}

export interface IFix {
  description: string;
  start_line: number;
  end_line: number;
  replacement: string;
}

export interface IFinding {
  rule_id: string;
  title: string;
  severity: Severity;
  confidence: string;
  cwe: string | null;
  file: string | null;
  cell: number | null;
  line: number;
  end_line: number;
  message: string;
  fingerprint: string;
  fix: IFix | null;
  fix_hint: string | null;
}

export interface IScanResult {
  findings: IFinding[];
  notes: string[];
}

export interface IHealthComponent {
  name: string;
  health: string;
  detail: string;
  last_check: number | null;
  restarts: number;
  given_up: boolean;
  critical: boolean;
}

export interface IHealth {
  mode: string;
  cause: string;
  manual: string | null;
  components: IHealthComponent[];
  incidents: Array<Record<string, unknown>>;
  pending_records: number;
  error: string | null;
}

export interface IVerification {
  at: number;
  by: string;
  via: string; // cli, server, lab, python: who added it to the workspace's history
  ok: boolean;
  size: number;
  problem: string | null;
}

export interface ILedgerSummary {
  size: number;
  checkpoint: { origin: string; size: number; root: string } | null;
  last_verification: IVerification | null;
}

export interface ICellCheck {
  index: number;
  cell_id: string;
  verdict: string;
  record_index: number | null;
  status: string | null;
}

export interface INotebookReport {
  ok: boolean;
  notebook: string;
  ledger_ok: boolean;
  ledger_problem: string | null;
  counts: Record<string, number>;
  cells: ICellCheck[];
}

export interface IFixResult {
  path: string;
  diff: string;
  rule_ids: string[];
  record?: number;
  backup_sha256?: string;
}

export interface IQuarantineEntry {
  id: string;
  path: string;
  sha256: string;
  who: string;
  why: string;
  state: string;
}

/** A held action: 202 from the server, naming the approval request it waits for. */
export interface IPending {
  state: 'pending-approval';
  approval_id: string;
  message: string;
}

export class GraceApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly hint: string | null,
    readonly body: unknown
  ) {
    super(message);
  }
}

export function isPending(value: unknown): value is IPending {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as { state?: unknown }).state === 'pending-approval'
  );
}

/** `request('alerts')`, `request('fix', {method: 'POST', body: {...}})`. */
export async function request<T>(
  path: string,
  options: { method?: 'GET' | 'POST'; body?: unknown; query?: Record<string, string> } = {}
): Promise<T> {
  const settings = ServerConnection.makeSettings();
  let url = URLExt.join(settings.baseUrl, 'grace', 'api', path);
  if (options.query) {
    url += URLExt.objectToQueryString(options.query);
  }
  const init: RequestInit = { method: options.method ?? 'GET' };
  if (init.method === 'POST') {
    init.body = JSON.stringify(options.body ?? {});
  }
  const response = await ServerConnection.makeRequest(url, init, settings);
  const text = await response.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    throw new GraceApiError(response.status, `Grace answered ${response.status}: ${text}`, null, text);
  }
  if (response.ok || response.status === 409) {
    // 409 carries a report (ledger/verify that does not verify); callers read its "ok".
    return data as T;
  }
  const error = (data as { error?: { message?: string; hint?: string | null } } | null)?.error;
  const message =
    error?.message ??
    (data as { message?: string } | null)?.message ??
    `Grace answered ${response.status}`;
  throw new GraceApiError(response.status, message, error?.hint ?? null, data);
}
