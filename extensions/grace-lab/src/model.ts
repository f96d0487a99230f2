/**
 * What the panel, the status bar and the commands share: who the user is, and
 * Grace's events as they arrive on Jupyter's event bus (no polling).
 *
 * The server extension forwards Grace's events (grace_kernel/server/_extension.py,
 * EVENT_KINDS; schemas in grace_kernel/events/schemas/) to `/api/events/subscribe`;
 * `serviceManager.events.stream` delivers them here.
 */
import { Event } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { IMe, Severity, SEVERITIES, request } from './api';

export const SCHEMAS = {
  alert: 'https://events.grace.dev/hunter/alert-changed',
  approval: 'https://events.grace.dev/governance/approval-changed',
  decision: 'https://events.grace.dev/governance/decision-blocked',
  checkpoint: 'https://events.grace.dev/ledger/checkpoint-written',
  guard: 'https://events.grace.dev/kernel/guard-blocked',
  policy: 'https://events.grace.dev/governance/policy-reload-failed',
  health: 'https://events.grace.dev/health/health-changed'
} as const;

export interface IDecisionBlocked {
  decision_id: string;
  effect: 'deny' | 'require_approval';
  action: string;
  principal: string;
  resource: string;
  policy_ids: string[];
  reasons: string[];
  approval_id: string | null;
}

/** Where the panel should go: a tab, and optionally an item in it. */
export interface IReveal {
  tab: 'alerts' | 'approvals' | 'ledger' | 'health';
  id?: string;
}

export class GraceModel {
  constructor(events: Event.IManager) {
    events.stream.connect(this._onEvent, this);
  }

  get me(): IMe | null {
    return this._me;
  }

  get minSeverity(): Severity {
    return this._minSeverity;
  }

  set minSeverity(value: Severity) {
    this._minSeverity = value;
    this._settingsChanged.emit();
  }

  get scanOnSave(): boolean {
    return this._scanOnSave;
  }

  set scanOnSave(value: boolean) {
    this._scanOnSave = value;
  }

  /** Whether a finding or alert of this severity is shown (the minimum-severity setting). */
  shows(severity: string): boolean {
    return SEVERITIES.indexOf(severity as Severity) >= SEVERITIES.indexOf(this._minSeverity);
  }

  /** Approval ids of blocked decisions seen on the bus, by governed resource. */
  approvalFor(resource: string): string | undefined {
    return this._approvals.get(resource);
  }

  async loadMe(): Promise<IMe | null> {
    try {
      this._me = await request<IMe>('me');
    } catch {
      this._me = null; // no Grace role, or Grace is not running: the tabs say so
    }
    this._meChanged.emit(this._me);
    return this._me;
  }

  get meChanged(): ISignal<this, IMe | null> {
    return this._meChanged;
  }

  get alertChanged(): ISignal<this, { alert_id: string; state: string }> {
    return this._alertChanged;
  }

  get approvalChanged(): ISignal<this, { approval_id: string; state: string }> {
    return this._approvalChanged;
  }

  get decisionBlocked(): ISignal<this, IDecisionBlocked> {
    return this._decisionBlocked;
  }

  get ledgerChanged(): ISignal<this, void> {
    return this._ledgerChanged;
  }

  /** The health mode changed, or an incident opened or closed (health-changed). */
  get healthChanged(): ISignal<this, { change: string; mode: string }> {
    return this._healthChanged;
  }

  get settingsChanged(): ISignal<this, void> {
    return this._settingsChanged;
  }

  get revealRequested(): ISignal<this, IReveal> {
    return this._revealRequested;
  }

  reveal(where: IReveal): void {
    this._revealRequested.emit(where);
  }

  private _onEvent(_: Event.IManager, event: Event.Emission): void {
    const data = event as unknown as Record<string, unknown>;
    switch (event.schema_id) {
      case SCHEMAS.alert:
        this._alertChanged.emit({ alert_id: String(data.alert_id), state: String(data.state) });
        break;
      case SCHEMAS.approval:
        this._approvalChanged.emit({
          approval_id: String(data.approval_id),
          state: String(data.state)
        });
        break;
      case SCHEMAS.decision: {
        const decision = data as unknown as IDecisionBlocked;
        if (decision.approval_id) {
          this._approvals.set(decision.resource, decision.approval_id);
        }
        this._decisionBlocked.emit(decision);
        break;
      }
      case SCHEMAS.checkpoint:
        this._ledgerChanged.emit();
        break;
      case SCHEMAS.health:
        this._healthChanged.emit({ change: String(data.change), mode: String(data.mode) });
        break;
      default:
        break;
    }
  }

  private _me: IMe | null = null;
  private _minSeverity: Severity = 'low';
  private _scanOnSave = true;
  private _approvals = new Map<string, string>();
  private _meChanged = new Signal<this, IMe | null>(this);
  private _alertChanged = new Signal<this, { alert_id: string; state: string }>(this);
  private _approvalChanged = new Signal<this, { approval_id: string; state: string }>(this);
  private _decisionBlocked = new Signal<this, IDecisionBlocked>(this);
  private _ledgerChanged = new Signal<this, void>(this);
  private _healthChanged = new Signal<this, { change: string; mode: string }>(this);
  private _settingsChanged = new Signal<this, void>(this);
  private _revealRequested = new Signal<this, IReveal>(this);
}
