/** The Alerts tab: open and acknowledged alerts, live from the event bus. */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { Widget } from '@lumino/widgets';

import { IAlert, request } from './api';
import { button, fill, h, when } from './dom';
import { openLocation, parseLocation } from './location';
import { GraceModel } from './model';

const SHOWN_STATES = new Set(['open', 'acknowledged']);
const MOVES: Array<[string, string]> = [
  ['ack', 'Ack'],
  ['resolve', 'Resolve'],
  ['false-positive', 'False positive']
];

export class AlertsTab extends Widget {
  constructor(
    private readonly app: JupyterFrontEnd,
    private readonly model: GraceModel
  ) {
    super();
    this.id = 'grace-alerts';
    this.title.label = 'Alerts';
    this.addClass('grace-Tab');
    model.alertChanged.connect((_, change) => void this.refreshOne(change.alert_id), this);
    model.decisionBlocked.connect(() => this.render(), this);
    model.settingsChanged.connect(() => this.render(), this);
    model.meChanged.connect(() => this.render(), this);
    void this.refresh();
  }

  async refresh(): Promise<void> {
    try {
      const alerts = await request<IAlert[]>('alerts');
      this.alerts = new Map(alerts.map(a => [a.id, a]));
      this.error = null;
    } catch (error) {
      this.error = (error as Error).message;
    }
    this.render();
  }

  private async refreshOne(id: string): Promise<void> {
    try {
      this.alerts.set(id, await request<IAlert>(`alerts/${encodeURIComponent(id)}`));
    } catch (error) {
      this.error = (error as Error).message;
    }
    this.render();
  }

  private async move(alert: IAlert, move: string): Promise<void> {
    try {
      this.alerts.set(
        alert.id,
        await request<IAlert>(`alerts/${encodeURIComponent(alert.id)}/${move}`, { method: 'POST' })
      );
      this.error = null;
    } catch (error) {
      this.error = (error as Error).message;
    }
    this.render();
  }

  private render(): void {
    const shown = [...this.alerts.values()]
      .filter(a => SHOWN_STATES.has(a.state) && this.model.shows(a.severity))
      .sort((a, b) => b.last_seen - a.last_seen);
    const canMove = this.model.me?.can.write ?? false;
    const list = h('ul', { class: 'grace-List' });
    for (const alert of shown) {
      list.append(this.item(alert, canMove));
    }
    fill(this.node, 
      h(
        'div',
        { class: 'grace-Toolbar' },
        h('span', { class: 'grace-Count' }, `${shown.length} open`),
        button('Refresh', () => this.refresh())
      ),
      this.error ? h('div', { class: 'grace-Error' }, this.error) : null,
      shown.length ? list : h('p', { class: 'grace-Empty' }, 'No open alerts.')
    );
  }

  private item(alert: IAlert, canMove: boolean): HTMLElement {
    const where = parseLocation(alert.location);
    const location = where
      ? h('a', { class: 'grace-Location', href: '#', title: 'Open' }, alert.location)
      : h('span', { class: 'grace-Location' }, alert.location);
    location.addEventListener('click', event => {
      event.preventDefault();
      if (where) {
        void openLocation(this.app, where);
      }
    });
    const approval = this.model.approvalFor(alert.location);
    const approvalLink = approval
      ? h('a', { class: 'grace-ApprovalLink', href: '#' }, `approval ${approval}`)
      : null;
    approvalLink?.addEventListener('click', event => {
      event.preventDefault();
      this.model.reveal({ tab: 'approvals', id: approval });
    });
    const actions = canMove
      ? MOVES.filter(([move]) => !(move === 'ack' && alert.state === 'acknowledged')).map(
          ([move, label]) => button(label, () => this.move(alert, move))
        )
      : [];
    return h(
      'li',
      { class: `grace-Item grace-sev-${alert.severity}`, 'data-alert-id': alert.id },
      h(
        'div',
        { class: 'grace-ItemHead' },
        h('span', { class: `grace-Severity grace-sev-${alert.severity}` }, alert.severity),
        h('span', { class: 'grace-Rule' }, alert.rule_id),
        h('span', { class: 'grace-State' }, alert.state),
        alert.count > 1 ? h('span', { class: 'grace-Count' }, `×${alert.count}`) : null
      ),
      h('div', { class: 'grace-Title' }, alert.title),
      h('div', {}, location),
      approvalLink,
      h('div', { class: 'grace-Meta' }, `${alert.source}, last ${when(alert.last_seen)}`),
      actions.length ? h('div', { class: 'grace-Actions' }, ...actions) : null
    );
  }

  private alerts = new Map<string, IAlert>();
  private error: string | null = null;
}
