/**
 * Changes the user made through Grace that can be undone: fixes and quarantines.
 *
 * A fix (POST fix) backs the file up in `.grace/backups/<sha256>` and records
 * it in the ledger; its undo (POST fixes/<record>/undo) writes the backup back
 * as a governed file.write. A quarantine (POST quarantine) keeps the content in
 * `.grace/quarantine/<sha256>`; its undo is a restore, which the seeded policy
 * puts behind another person's approval: the server answers 202 with the
 * request's id, and the change shows "waiting for approval" until it is
 * decided and the user restores again.
 */
import { Notification } from '@jupyterlab/apputils';
import { ISignal, Signal } from '@lumino/signaling';

import { IFixResult, IPending, IQuarantineEntry, isPending, request } from './api';
import { GraceModel } from './model';

export interface IChange {
  kind: 'fix' | 'quarantine';
  path: string;
  id: string; // the fix's ledger record, or the quarantine entry id
  state: 'done' | 'undone' | 'waiting';
  approvalId?: string;
}

export class Changes {
  constructor(private readonly model: GraceModel) {}

  get list(): readonly IChange[] {
    return this._list;
  }

  get changed(): ISignal<this, IChange | null> {
    return this._changed;
  }

  /** Apply Hunter's fixes to a saved file; offers Undo. Returns the change, or null. */
  async fix(path: string, fingerprints?: string[]): Promise<IChange | null> {
    const result = await request<IFixResult | IPending>('fix', {
      method: 'POST',
      body: fingerprints ? { path, fingerprints } : { path }
    });
    if (isPending(result)) {
      this.pending(result);
      return null;
    }
    const change: IChange = { kind: 'fix', path, id: String(result.record), state: 'done' };
    this.add(change, `Fixed ${result.rule_ids.join(', ')} in ${path} (backup recorded)`);
    return change;
  }

  async quarantine(path: string, reason: string): Promise<IChange | null> {
    const result = await request<IQuarantineEntry | IPending>('quarantine', {
      method: 'POST',
      body: { path, reason }
    });
    if (isPending(result)) {
      this.pending(result);
      return null;
    }
    const change: IChange = { kind: 'quarantine', path, id: result.id, state: 'done' };
    this.add(change, `Quarantined ${path} as ${result.id}`);
    return change;
  }

  /** Roll a change back; a quarantine restore may wait for another person's approval. */
  async undo(change: IChange): Promise<void> {
    const url =
      change.kind === 'fix'
        ? `fixes/${change.id}/undo`
        : `quarantine/${encodeURIComponent(change.id)}/restore`;
    try {
      const result = await request<unknown>(url, { method: 'POST' });
      if (isPending(result)) {
        change.state = 'waiting';
        change.approvalId = result.approval_id;
        Notification.warning(`${result.message}. Undo again once it is approved.`, {
          autoClose: false,
          actions: [
            {
              label: 'Show approval',
              callback: () => this.model.reveal({ tab: 'approvals', id: result.approval_id })
            }
          ]
        });
      } else {
        change.state = 'undone';
        change.approvalId = undefined;
        Notification.success(`Undone: ${change.kind} of ${change.path}`, { autoClose: 5000 });
      }
    } catch (error) {
      Notification.error(`Undo failed: ${(error as Error).message}`, { autoClose: false });
    }
    this._changed.emit(change);
  }

  private add(change: IChange, message: string): void {
    this._list.unshift(change);
    this._changed.emit(change);
    Notification.success(message, {
      autoClose: false,
      actions: [{ label: 'Undo', callback: () => void this.undo(change) }]
    });
  }

  private pending(result: IPending): void {
    Notification.warning(result.message, {
      autoClose: false,
      actions: [
        {
          label: 'Show approval',
          callback: () => this.model.reveal({ tab: 'approvals', id: result.approval_id })
        }
      ]
    });
  }

  private _list: IChange[] = [];
  private _changed = new Signal<this, IChange | null>(this);
}
