/**
 * The Ledger tab: size, latest checkpoint, the last full verification (and a
 * button to run one), the current notebook's provenance per cell, quarantined
 * files, and this session's fixes and quarantines with Undo.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { Widget } from '@lumino/widgets';

import { ILedgerSummary, IQuarantineEntry, request } from './api';
import { Changes, IChange } from './changes';
import { add, button, fill, h, when } from './dom';
import { openLocation } from './location';
import { GraceModel } from './model';
import { Provenance } from './provenance';

export class LedgerTab extends Widget {
  constructor(
    private readonly app: JupyterFrontEnd,
    model: GraceModel,
    private readonly provenance: Provenance,
    private readonly changes: Changes
  ) {
    super();
    this.id = 'grace-ledger';
    this.title.label = 'Ledger';
    this.addClass('grace-Tab');
    model.ledgerChanged.connect(() => void this.refresh(), this);
    provenance.changed.connect(() => this.render(), this);
    changes.changed.connect(() => void this.refresh(), this);
    void this.refresh();
  }

  async refresh(): Promise<void> {
    try {
      [this.summary, this.quarantined] = await Promise.all([
        request<ILedgerSummary>('lab/ledger'),
        request<IQuarantineEntry[]>('quarantine')
      ]);
      this.error = null;
    } catch (error) {
      this.error = (error as Error).message;
    }
    this.render();
  }

  private async verify(): Promise<void> {
    this.busy = true;
    this.render();
    try {
      await request('lab/ledger/verify', { method: 'POST' });
      this.error = null;
    } catch (error) {
      this.error = (error as Error).message;
    }
    this.busy = false;
    await this.refresh();
  }

  protected onAfterShow(): void {
    void this.refresh();
  }

  private render(): void {
    const s = this.summary;
    const last = s?.last_verification;
    fill(this.node, 
      this.error ? h('div', { class: 'grace-Error' }, this.error) : null,
      h(
        'dl',
        { class: 'grace-Facts' },
        h('dt', {}, 'Records'),
        h('dd', { class: 'grace-LedgerSize' }, s ? String(s.size) : '…'),
        h('dt', {}, 'Latest checkpoint'),
        h('dd', {}, s?.checkpoint ? `size ${s.checkpoint.size}, root ${s.checkpoint.root.slice(0, 16)}…` : 'none yet'),
        h('dt', {}, 'Last full verification'),
        h(
          'dd',
          { class: last && !last.ok ? 'grace-Bad' : '' },
          last
            ? `${last.ok ? 'OK' : 'FAILED: ' + (last.problem ?? '')} — ${last.size} records, ${when(last.at)} by ${last.by} via ${last.via}`
            : 'never'
        )
      ),
      h(
        'div',
        { class: 'grace-Toolbar' },
        button(this.busy ? 'Verifying…' : 'Verify ledger now', () => this.verify(), {
          disabled: this.busy
        })
      ),
      this.renderProvenance(),
      this.renderChanges(),
      this.renderQuarantine()
    );
  }

  private renderProvenance(): HTMLElement {
    const report = this.provenance.report;
    const path = this.provenance.path;
    const section = h(
      'section',
      { class: 'grace-Provenance' },
      h('h3', {}, 'Current notebook'),
      h(
        'div',
        { class: 'grace-Toolbar' },
        h('span', {}, path ?? 'no notebook open'),
        path ? button('Verify notebook', () => this.provenance.refresh()) : null
      )
    );
    if (this.provenance.error) {
      add(section, h('div', { class: 'grace-Error' }, this.provenance.error));
    }
    if (!report || !path) {
      return section;
    }
    const rows = report.cells.map(cell => {
      const link = h('a', { href: '#' }, `cell ${cell.index}`);
      link.addEventListener('click', event => {
        event.preventDefault();
        void openLocation(this.app, { path, cellId: cell.cell_id });
      });
      const bad = cell.verdict !== 'verified' && cell.verdict !== 'not executed';
      return h(
        'tr',
        { class: bad ? 'grace-Bad' : '' },
        h('td', {}, link),
        h('td', {}, cell.verdict),
        h('td', {}, cell.record_index === null ? '' : `record ${cell.record_index}`)
      );
    });
    add(section, 
      h('table', { class: 'grace-Table' }, ...rows),
      report.ledger_ok ? null : h('div', { class: 'grace-Error' }, report.ledger_problem ?? '')
    );
    return section;
  }

  private renderChanges(): HTMLElement | null {
    if (!this.changes.list.length) {
      return null;
    }
    const label = (c: IChange): string =>
      c.state === 'waiting' ? `waiting for approval ${c.approvalId}` : c.state;
    return h(
      'section',
      {},
      h('h3', {}, 'Your changes'),
      h(
        'ul',
        { class: 'grace-List' },
        ...this.changes.list.map(c =>
          h(
            'li',
            { class: 'grace-Item' },
            `${c.kind} ${c.path} (${c.id}): ${label(c)} `,
            c.state !== 'undone' ? button('Undo', () => this.changes.undo(c)) : null
          )
        )
      )
    );
  }

  private renderQuarantine(): HTMLElement | null {
    if (!this.quarantined.length) {
      return null;
    }
    return h(
      'section',
      {},
      h('h3', {}, 'Quarantined files'),
      h(
        'ul',
        { class: 'grace-List' },
        ...this.quarantined.map(entry =>
          h(
            'li',
            { class: 'grace-Item' },
            `${entry.path} (${entry.id}), by ${entry.who}: ${entry.why} `,
            button('Restore', () => this.changes.undo(this.changeFor(entry)))
          )
        )
      )
    );
  }

  /**
   * This session's quarantine of the entry, so that a Restore shows in "Your
   * changes" (waiting, undone) like its Undo does; a new change otherwise.
   */
  private changeFor(entry: IQuarantineEntry): IChange {
    const mine = this.changes.list.find(c => c.kind === 'quarantine' && c.id === entry.id);
    return mine ?? { kind: 'quarantine', path: entry.path, id: entry.id, state: 'done' };
  }

  private summary: ILedgerSummary | null = null;
  private quarantined: IQuarantineEntry[] = [];
  private error: string | null = null;
  private busy = false;
}
