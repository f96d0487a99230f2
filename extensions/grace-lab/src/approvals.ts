/**
 * The Approvals tab: pending requests, who asked, what, why, and the time left.
 *
 * Approve and deny appear only for users whose role may approve (GET me), and
 * are disabled on the user's own requests: governance refuses self-approval
 * anyway, the panel just says so first.
 */
import { Widget } from '@lumino/widgets';

import { IApproval, request } from './api';
import { button, countdown, fill, h } from './dom';
import { GraceModel } from './model';

export class ApprovalsTab extends Widget {
  constructor(private readonly model: GraceModel) {
    super();
    this.id = 'grace-approvals';
    this.title.label = 'Approvals';
    this.addClass('grace-Tab');
    model.approvalChanged.connect(() => void this.refresh(), this);
    model.meChanged.connect(() => this.render(), this);
    model.revealRequested.connect((_, where) => {
      if (where.tab === 'approvals' && where.id) {
        this.highlighted = where.id;
        void this.refresh();
      }
    }, this);
    // A clock for the countdowns only: the list itself changes through events.
    this.timer = window.setInterval(() => this.tick(), 1000);
    void this.refresh();
  }

  dispose(): void {
    window.clearInterval(this.timer);
    super.dispose();
  }

  async refresh(): Promise<void> {
    try {
      this.pending = await request<IApproval[]>('approvals', { query: { state: 'pending' } });
      this.error = null;
    } catch (error) {
      this.error = (error as Error).message;
    }
    this.render();
  }

  private tick(): void {
    for (const node of this.node.querySelectorAll<HTMLElement>('[data-expires]')) {
      node.textContent = countdown(Number(node.dataset.expires));
    }
  }

  private async decide(approval: IApproval, verb: 'approve' | 'deny', reason: string): Promise<void> {
    try {
      await request<IApproval>(`approvals/${encodeURIComponent(approval.id)}/${verb}`, {
        method: 'POST',
        body: { reason }
      });
      this.error = null;
    } catch (error) {
      this.error = (error as Error).message;
    }
    await this.refresh();
  }

  private render(): void {
    const list = h('ul', { class: 'grace-List' });
    for (const approval of this.pending) {
      list.append(this.item(approval));
    }
    fill(this.node, 
      h(
        'div',
        { class: 'grace-Toolbar' },
        h('span', { class: 'grace-Count' }, `${this.pending.length} pending`),
        button('Refresh', () => this.refresh())
      ),
      this.error ? h('div', { class: 'grace-Error' }, this.error) : null,
      this.pending.length ? list : h('p', { class: 'grace-Empty' }, 'Nothing waits for approval.')
    );
    this.node.querySelector('.grace-highlight')?.scrollIntoView({ block: 'nearest' });
  }

  private item(approval: IApproval): HTMLElement {
    const me = this.model.me;
    const own =
      me !== null && (approval.person === me.name || approval.requester === me.principal);
    const reason = h('input', {
      class: 'grace-Reason',
      type: 'text',
      placeholder: 'reason (recorded)',
      'aria-label': 'reason'
    });
    let actions: HTMLElement | null = null;
    if (me?.can.approve) {
      const title = own ? 'your own request: another person must decide it' : undefined;
      actions = h(
        'div',
        { class: 'grace-Actions' },
        reason,
        button('Approve', () => this.decide(approval, 'approve', reason.value), {
          disabled: own,
          title
        }),
        button('Deny', () => this.decide(approval, 'deny', reason.value), {
          disabled: own,
          title
        })
      );
      reason.disabled = own;
    }
    const highlighted = approval.id === this.highlighted ? ' grace-highlight' : '';
    return h(
      'li',
      { class: `grace-Item${highlighted}`, 'data-approval-id': approval.id },
      h(
        'div',
        { class: 'grace-ItemHead' },
        h('span', { class: 'grace-Rule' }, approval.id),
        h('span', { class: 'grace-Expiry', 'data-expires': String(approval.expires_at) },
          countdown(approval.expires_at))
      ),
      h('div', { class: 'grace-Title' }, `${approval.action.kind} on ${approval.action.resource}`),
      h(
        'div',
        { class: 'grace-Meta' },
        `asked by ${approval.requester}` + (approval.person ? ` for ${approval.person}` : '')
      ),
      h(
        'ul',
        { class: 'grace-Reasons' },
        ...approval.reasons.map((why, i) =>
          h('li', {}, approval.policy_ids[i] ? `${approval.policy_ids[i]}: ${why}` : why)
        )
      ),
      own && me?.can.approve
        ? h('div', { class: 'grace-Meta' }, 'Your own request: another person must decide it.')
        : null,
      actions
    );
  }

  private pending: IApproval[] = [];
  private error: string | null = null;
  private highlighted: string | null = null;
  private readonly timer: number;
}
