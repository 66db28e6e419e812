// The signal inbox (#/signals: the workspace's signals, filtered by farm, type and status,
// newest first) and the notification settings (#/settings: the member's e-mail choice and, for
// administrators, the workspace's webhooks with their deliveries).

import { api, currentRole } from './api.js';
import { h, ask, toast } from './dom.js';
import { describeError } from './i18n.js';
import { formatDateTime } from './format.js';
import { app, mount, showError } from './main.js';
import { visibleParts } from './flags.js';
import { NOTIFY_MODES, SIGNAL_STATUSES, SIGNAL_TYPES, WEBHOOK_EVENTS, newestFirst, signalQuery } from './signals.js';

// The inbox's filters, kept while the app is open.
const filters = { farm: '', type: '', status: '' };

/** "Semana 9 de 2026" / "Week 9, 2026". */
export function signalWeek(t, signal) {
  return t('signal.week', { week: signal.week, year: signal.year });
}

/** The severity badge of a signal. */
export function severityBadge(t, severity) {
  return h('span', { class: `badge severity-${severity}` }, t(`severity.${severity}`));
}

/** The status badge of a signal. */
export function signalStatusBadge(t, status) {
  return h('span', { class: `badge signal-status signal-${status}` }, t(`signalStatus.${status}`));
}

export async function inboxScreen() {
  const t = app.t;
  const list = h('ul', { class: 'signal-list', id: 'signal-list', 'aria-busy': 'true' }, h('li', { class: 'muted' }, t('common.loading')));
  const farmSelect = h('select', { id: 'filter-farm', 'aria-label': t('signals.farm'), onchange: (e) => { filters.farm = e.target.value; load(); } },
    h('option', { value: '' }, t('signals.allFarms')));
  const typeSelect = h('select', { id: 'filter-type', 'aria-label': t('signals.type'), onchange: (e) => { filters.type = e.target.value; load(); } },
    h('option', { value: '' }, t('signals.allTypes')),
    SIGNAL_TYPES.map((type) => h('option', { value: type, selected: type === filters.type }, t(`signalType.${type}`))));
  const statusSelect = h('select', { id: 'filter-status', 'aria-label': t('signals.status'), onchange: (e) => { filters.status = e.target.value; load(); } },
    h('option', { value: '' }, t('signals.allStatuses')),
    SIGNAL_STATUSES.map((status) => h('option', { value: status, selected: status === filters.status }, t(`signalStatus.${status}`))));
  const label = (text, control) => h('label', { class: 'filter' }, h('span', {}, text), control);
  mount('signals', h('div', { class: 'page' },
    h('div', { class: 'page-head' }, h('h1', {}, t('signals.title')),
      h('button', { class: 'btn ghost', type: 'button', onclick: () => load() }, t('jobs.refresh'))),
    h('div', { class: 'filters' }, label(t('signals.farm'), farmSelect), label(t('signals.type'), typeSelect), label(t('signals.status'), statusSelect)),
    list));

  let farms = new Map();
  api.farms().then((body) => {
    farms = new Map(body.items.map((f) => [f.id, f.name]));
    farmSelect.append(...body.items.map((f) => h('option', { value: f.id, selected: f.id === filters.farm }, f.name)));
    // A farm filter for a farm that is gone (or of another workspace) is dropped.
    if (filters.farm && !farms.has(filters.farm)) { filters.farm = ''; load(); }
  }).catch(() => {});

  let generation = 0;
  async function load() {
    const mine = ++generation;
    list.setAttribute('aria-busy', 'true');
    let signals;
    try {
      signals = newestFirst((await api.signals(signalQuery(filters), app.lang)).items);
    } catch (error) {
      if (mine === generation) list.replaceChildren(h('li', { class: 'muted' }, describeError(t, error)));
      return;
    }
    if (mine !== generation) return;
    list.removeAttribute('aria-busy');
    list.dataset.count = String(signals.length);
    if (signals.length === 0) {
      list.replaceChildren(h('li', { class: 'empty' }, filters.farm || filters.type || filters.status ? t('signals.noneFiltered') : t('signals.none')));
      return;
    }
    list.replaceChildren(...signals.map((s) => h('li', { class: `signal-row severity-${s.severity}`, 'data-id': s.id, 'data-type': s.type, 'data-status': s.status },
      h('a', { class: 'signal-link', href: `#/farms/${s.farm_id}/fields/${s.aoi_id}/signals/${s.id}` },
        h('span', { class: 'signal-field' }, s.aoi_name ?? '–', farms.get(s.farm_id) ? h('span', { class: 'signal-farm' }, ` · ${farms.get(s.farm_id)}`) : null),
        h('span', { class: 'signal-type' }, t(`signalType.${s.type}`)),
        h('span', { class: 'signal-title' }, s.title ?? ''),
        h('span', { class: 'signal-badges' }, severityBadge(t, s.severity), signalStatusBadge(t, s.status)),
        h('span', { class: 'signal-week' }, signalWeek(t, s))))));
  }
  await load();
}

// ---- settings ----------------------------------------------------------------------------------

export async function settingsScreen() {
  const t = app.t;
  const parts = visibleParts(app.flags);
  const admin = currentRole() === 'TENANT_ADMIN';
  const notifications = h('section', { class: 'card settings-card', id: 'notification-settings' }, h('p', { class: 'muted' }, t('common.loading')));
  const webhooks = admin && parts.webhooks ? h('section', { class: 'card settings-card', id: 'webhooks' }, h('p', { class: 'muted' }, t('common.loading'))) : null;
  mount('settings', h('div', { class: 'page' },
    h('div', { class: 'page-head' }, h('h1', {}, t('settings.title'))),
    notifications, webhooks));
  await Promise.all([renderNotifications(notifications), webhooks ? renderWebhooks(webhooks) : null]);
}

async function renderNotifications(el) {
  const t = app.t;
  let prefs;
  try {
    prefs = await api.notifications();
  } catch (error) {
    el.replaceChildren(h('h2', {}, t('settings.notifications')), h('p', { class: 'muted' }, describeError(t, error)));
    return;
  }
  const email = prefs?.email ?? {};
  const mode = h('select', { name: 'signals', id: 'notify-email' },
    NOTIFY_MODES.map((m) => h('option', { value: m, selected: m === (email.signals ?? 'off') }, t(`settings.email.${m}`))));
  const language = h('select', { name: 'language', id: 'notify-language' },
    ['pt-BR', 'en'].map((l) => h('option', { value: l, selected: l === (email.language ?? app.lang) }, t(`settings.language.${l}`))));
  const message = h('p', { class: 'form-message', role: 'status' });
  const form = h('form', {
    class: 'settings-form',
    onsubmit: async (e) => {
      e.preventDefault();
      const button = form.querySelector('button[type=submit]');
      button.disabled = true;
      message.textContent = '';
      try {
        await api.saveNotifications({ email: { signals: mode.value, language: language.value } });
        message.dataset.kind = 'info';
        message.textContent = t('settings.saved');
      } catch (error) {
        message.dataset.kind = 'error';
        message.textContent = describeError(t, error);
      } finally {
        button.disabled = false;
      }
    },
  },
  h('label', { class: 'field' }, h('span', {}, t('settings.emailSignals')), mode),
  h('label', { class: 'field' }, h('span', {}, t('settings.emailLanguage')), language),
  visibleParts(app.flags).email ? null : h('p', { class: 'hint' }, t('settings.emailOff')),
  message,
  h('button', { class: 'btn primary', type: 'submit', id: 'save-notifications' }, t('common.save')));
  el.replaceChildren(h('h2', {}, t('settings.notifications')), h('p', { class: 'hint' }, t('settings.notificationsHint')), form);
}

async function renderWebhooks(el) {
  const t = app.t;
  let hooks;
  try {
    const body = await api.webhooks();
    hooks = Array.isArray(body) ? body : body?.items ?? [];
  } catch (error) {
    el.replaceChildren(h('h2', {}, t('webhooks.title')), h('p', { class: 'muted' }, describeError(t, error)));
    return;
  }
  const secretBox = h('div', { class: 'secret-box', id: 'webhook-secret', hidden: true });
  const url = h('input', { name: 'url', type: 'url', required: true, placeholder: 'https://', 'aria-label': t('webhooks.url') });
  const description = h('input', { name: 'description', type: 'text', maxlength: 200, 'aria-label': t('webhooks.description') });
  const events = WEBHOOK_EVENTS.map((event) => h('label', { class: 'check' },
    h('input', { type: 'checkbox', name: 'events', value: event, checked: event !== 'job.dead' }), ` ${t(`webhooks.event.${event}`)}`));
  const message = h('p', { class: 'form-message', role: 'alert', 'data-kind': 'error' });
  const form = h('form', {
    class: 'settings-form webhook-form',
    onsubmit: async (e) => {
      e.preventDefault();
      message.textContent = '';
      const chosen = [...form.querySelectorAll('input[name=events]:checked')].map((i) => i.value);
      try {
        const hook = await api.createWebhook({ url: url.value.trim(), events: chosen, description: description.value.trim() || undefined });
        await renderWebhooks(el);
        // The secret is shown once, now: the list never shows it again.
        const box = el.querySelector('#webhook-secret');
        box.replaceChildren(h('strong', {}, t('webhooks.secretOnce')), h('code', { class: 'secret' }, hook.secret ?? ''));
        box.hidden = false;
      } catch (error) {
        message.textContent = describeError(t, error);
      }
    },
  },
  h('h3', {}, t('webhooks.add')),
  h('label', { class: 'field' }, h('span', {}, t('webhooks.url')), url),
  h('fieldset', { class: 'events' }, h('legend', {}, t('webhooks.events')), events),
  h('label', { class: 'field' }, h('span', {}, t('webhooks.description')), description),
  message,
  h('button', { class: 'btn primary', type: 'submit', id: 'add-webhook' }, t('webhooks.add')));
  const list = hooks.length === 0 ? h('p', { class: 'empty' }, t('webhooks.none'))
    : h('ul', { class: 'webhook-list' }, hooks.map((hook) => webhookRow(hook, el)));
  el.replaceChildren(h('h2', {}, t('webhooks.title')), h('p', { class: 'hint' }, t('webhooks.hint')), secretBox, list, form);
}

function webhookRow(hook, section) {
  const t = app.t;
  const deliveries = h('div', { class: 'deliveries', hidden: true });
  return h('li', { class: 'webhook', 'data-id': hook.id },
    h('div', { class: 'webhook-head' },
      h('code', { class: 'webhook-url' }, hook.url),
      h('span', { class: 'webhook-events' }, (hook.events ?? []).map((e) => t(`webhooks.event.${e}`)).join(' · ')),
      hook.description ? h('span', { class: 'muted' }, hook.description) : null),
    h('div', { class: 'button-row' },
      h('button', {
        class: 'btn ghost small test-webhook', type: 'button',
        onclick: async () => {
          try { await api.testWebhook(hook.id); toast(t('webhooks.testSent')); showDeliveries(hook, deliveries, true); } catch (error) { showError(error); }
        },
      }, t('webhooks.test')),
      h('button', { class: 'btn ghost small show-deliveries', type: 'button', onclick: () => showDeliveries(hook, deliveries, deliveries.hidden) }, t('webhooks.deliveries')),
      h('button', {
        class: 'btn ghost small danger-text delete-webhook', type: 'button',
        onclick: async () => {
          const ok = await ask({ title: t('webhooks.delete'), message: t('webhooks.deleteConfirm', { url: hook.url }), confirm: t('common.delete'), cancel: t('common.cancel'), danger: true });
          if (!ok) return;
          try { await api.deleteWebhook(hook.id); await renderWebhooks(section); } catch (error) { showError(error); }
        },
      }, t('common.delete'))),
    deliveries);
}

async function showDeliveries(hook, el, open) {
  const t = app.t;
  el.hidden = !open;
  if (!open) return;
  el.replaceChildren(h('p', { class: 'muted' }, t('common.loading')));
  try {
    const body = await api.deliveries(hook.id);
    const items = Array.isArray(body) ? body : body?.items ?? [];
    el.dataset.count = String(items.length);
    el.replaceChildren(items.length === 0 ? h('p', { class: 'muted' }, t('webhooks.noDeliveries'))
      : h('div', { class: 'table-wrap' }, h('table', { class: 'jobs deliveries-table' },
        h('thead', {}, h('tr', {}, ['webhooks.event', 'jobs.status', 'jobs.attempts', 'webhooks.response', 'jobs.created'].map((k) => h('th', { scope: 'col' }, t(k))))),
        h('tbody', {}, items.map((d) => h('tr', {},
          h('td', {}, d.event),
          h('td', {}, h('span', { class: `badge status-${d.status}` }, t(`delivery.${d.status}`))),
          h('td', { class: 'num' }, String(d.attempts ?? 0)),
          h('td', { class: 'num' }, d.response_status ?? '–'),
          h('td', {}, formatDateTime(app.lang, d.created_at))))))));
  } catch (error) {
    el.replaceChildren(h('p', { class: 'muted' }, describeError(t, error)));
  }
}
