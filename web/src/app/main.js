// The app shell: language, session, hash routes (#/signin, #/signup, #/farms, #/farms/{id},
// #/farms/{id}/fields/{aoi}, #/farms/{id}/fields/{aoi}/signals/{signal}, #/signals, #/settings,
// #/jobs) and the screens that are not the map.

import { api, canEdit, currentSession, onExpired, setSession } from './api.js';
import { h, ask, toast } from './dom.js';
import { countFields, describeError, detectLanguage, translator } from './i18n.js';
import { formatDateTime, formatHectares } from './format.js';
import { renderFarm } from './farm.js';
import { visibleParts } from './flags.js';
import { inboxScreen, settingsScreen } from './inbox.js';

const LANG_KEY = 'vivacampo.lang';

export const app = {
  lang: localStorage.getItem(LANG_KEY) ?? detectLanguage(navigator.languages ?? [navigator.language]),
  t: null,
  flash: null,
  returnTo: null,
  cleanup: null,
  // The workspace's feature flags (GET /v1/flags) and the workspace they are for.
  flags: null,
  flagsTenant: null,
  flagsLoading: null,
};
app.t = translator(app.lang);

function setLanguage(lang) {
  app.lang = lang;
  app.t = translator(lang);
  localStorage.setItem(LANG_KEY, lang);
  document.documentElement.lang = lang;
  route();
}

export function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

/** The error of an API call in words, as a toast. */
export function showError(error) {
  toast(describeError(app.t, error), 'error');
}

onExpired(() => {
  app.flash = { kind: 'error', key: 'auth.expired' };
  app.returnTo = location.hash;
  navigate('#/signin');
});

// ---- shell ---------------------------------------------------------------------------------

function logo() {
  return h('a', { class: 'brand', href: '#/farms' },
    h('img', { src: '/assets/favicon.svg', width: 28, height: 28, alt: '' }),
    h('span', {}, 'VivaCampo'));
}

function languageButton() {
  const other = app.lang === 'en' ? 'pt-BR' : 'en';
  return h('button', { class: 'btn ghost lang', type: 'button', 'aria-label': app.t('lang.switchLabel'), lang: other, onclick: () => setLanguage(other) },
    h('span', { class: 'lang-long' }, app.t('lang.switch')), h('span', { class: 'lang-short', 'aria-hidden': 'true' }, other === 'en' ? 'EN' : 'PT'));
}

function topbar(active) {
  const t = app.t;
  const session = currentSession();
  const memberships = session?.memberships ?? [];
  const workspace = memberships.length > 1
    ? h('label', { class: 'workspace' }, h('span', { class: 'visually-hidden' }, t('nav.workspace')),
      h('select', {
        'aria-label': t('nav.workspace'),
        onchange: async (e) => {
          try {
            setSession(await api.switchWorkspace(e.target.value));
            navigate('#/farms');
          } catch (error) { showError(error); }
        },
      }, memberships.map((m) => h('option', { value: m.tenant_id, selected: m.tenant_id === session.tenant.id }, m.tenant_name))))
    : h('span', { class: 'workspace-name', title: t('nav.workspace') }, h('span', { class: 'workspace-kind' }, t('nav.workspace')), ' ', session?.tenant?.name ?? '');
  return h('header', { class: 'topbar' },
    logo(),
    h('nav', { 'aria-label': 'VivaCampo' },
      h('a', { href: '#/farms', 'aria-current': active === 'farms' ? 'page' : null }, t('nav.farms')),
      visibleParts(app.flags).signals && h('a', { href: '#/signals', class: 'nav-signals', 'aria-current': active === 'signals' ? 'page' : null }, t('nav.signals')),
      h('a', { href: '#/jobs', 'aria-current': active === 'jobs' ? 'page' : null }, h('span', { class: 'nav-text' }, t('nav.jobs')), h('span', { class: 'nav-short', 'aria-hidden': 'true' }, t('nav.jobsShort'))),
      visibleParts(app.flags).signals && h('a', { href: '#/settings', class: 'nav-settings', title: t('nav.settings'), 'aria-label': t('nav.settings'), 'aria-current': active === 'settings' ? 'page' : null },
        h('span', { class: 'nav-icon', 'aria-hidden': 'true' }, '⚙'), h('span', { class: 'nav-text' }, t('nav.settings')))),
    h('div', { class: 'spacer' }),
    workspace,
    languageButton(),
    h('button', { class: 'btn ghost signout', type: 'button', onclick: signOut }, t('auth.signout')));
}

async function signOut() {
  try { await api.logout(); } catch { /* the token may already be gone; signing out still works */ }
  setSession(null);
  app.flash = { kind: 'info', key: 'auth.signedOut' };
  navigate('#/signin');
}

export function mount(active, ...content) {
  const root = document.getElementById('app');
  root.replaceChildren(topbar(active), h('main', { id: 'main', class: `screen screen-${active}` }, ...content));
}

// ---- sign in / sign up ---------------------------------------------------------------------

function authScreen(mode) {
  const t = app.t;
  const signupOpen = serverHint('signup') !== 'closed';
  const signup = mode === 'signup' && signupOpen;
  if (mode === 'signup' && !signupOpen) app.flash = { kind: 'info', key: 'auth.signupClosed' };
  const message = h('p', { class: 'form-message', role: 'alert' });
  if (app.flash) {
    message.textContent = t(app.flash.key);
    message.dataset.kind = app.flash.kind;
    app.flash = null;
  }
  const input = (name, type, label, extra = {}) => h('label', { class: 'field' }, h('span', {}, label),
    h('input', { name, type, required: true, ...extra }));
  const form = h('form', {
    class: 'auth-form',
    onsubmit: async (e) => {
      e.preventDefault();
      const data = Object.fromEntries(new FormData(form));
      const button = form.querySelector('button[type=submit]');
      button.disabled = true;
      message.textContent = '';
      try {
        const login = signup
          ? await api.signup({ email: data.email, password: data.password, name: data.name, workspace_name: data.workspace || undefined })
          : await api.login(data.email, data.password);
        setSession(login);
        navigate(app.returnTo ?? '#/farms');
        app.returnTo = null;
      } catch (error) {
        message.dataset.kind = 'error';
        message.textContent = describeError(t, error);
      } finally {
        button.disabled = false;
      }
    },
  },
  h('h1', {}, signup ? t('auth.signup') : t('auth.signin')),
  message,
  signup ? input('name', 'text', t('auth.name'), { autocomplete: 'name' }) : null,
  input('email', 'email', t('auth.email'), { autocomplete: 'email' }),
  input('password', 'password', t('auth.password'), { autocomplete: signup ? 'new-password' : 'current-password', minlength: signup ? 10 : null }),
  signup ? h('p', { class: 'hint' }, t('auth.passwordHint')) : null,
  signup ? h('label', { class: 'field' }, h('span', {}, t('auth.workspace')), h('input', { name: 'workspace', type: 'text' })) : null,
  h('button', { class: 'btn primary wide', type: 'submit' }, signup ? t('auth.signup') : t('auth.signin')),
  signupOpen ? h('p', { class: 'switch' }, signup ? t('auth.haveAccount') : t('auth.noAccount'), ' ',
    h('a', { href: signup ? '#/signin' : '#/signup' }, signup ? t('auth.signin') : t('auth.signup'))) : null,
  signup ? null : demoHint(t));
  document.getElementById('app').replaceChildren(
    h('main', { id: 'main', class: 'auth' },
      h('section', { class: 'auth-hero', 'aria-hidden': 'true' },
        h('div', { class: 'hero-inner' }, logo(), h('p', {}, t('app.tagline')))),
      h('section', { class: 'auth-card' }, form),
      h('div', { class: 'auth-top' }, languageButton())));
  form.querySelector('input').focus();
}

// ---- farms -----------------------------------------------------------------------------------

async function farmsScreen() {
  const t = app.t;
  const list = h('ul', { class: 'farm-grid', 'aria-busy': 'true' }, h('li', { class: 'muted' }, t('common.loading')));
  const name = h('input', { name: 'name', type: 'text', required: true, maxlength: 120, placeholder: t('farms.name'), 'aria-label': t('farms.name') });
  const create = h('form', {
    class: 'inline-form',
    onsubmit: async (e) => {
      e.preventDefault();
      try {
        const farm = await api.createFarm(name.value.trim());
        navigate(`#/farms/${farm.id}`);
      } catch (error) { showError(error); }
    },
  }, name, h('button', { class: 'btn primary', type: 'submit' }, t('farms.create')));
  mount('farms', h('div', { class: 'page' },
    h('div', { class: 'page-head' }, h('h1', {}, t('farms.title')), canEdit() ? create : null),
    list));
  let farms;
  try {
    farms = (await api.farms()).items;
  } catch (error) {
    list.replaceChildren(h('li', { class: 'muted' }, describeError(t, error)));
    return;
  }
  list.removeAttribute('aria-busy');
  if (farms.length === 0) {
    list.replaceChildren(h('li', { class: 'empty' }, t('farms.empty')));
    name.focus();
    return;
  }
  list.replaceChildren(...farms.map((farm) => h('li', { class: 'farm-card' },
    h('a', { class: 'farm-link', href: `#/farms/${farm.id}` },
      h('span', { class: 'farm-thumb', 'aria-hidden': 'true', 'data-farm': farm.id }),
      h('span', { class: 'farm-name' }, farm.name),
      h('span', { class: 'farm-meta' }, countFields(t, farm.aoi_count), ' · ', formatHectares(app.lang, farm.total_area_ha ?? 0))),
    canEdit() && h('div', { class: 'farm-actions' },
      h('button', {
        class: 'btn ghost small', type: 'button', 'aria-label': `${t('farms.rename')}: ${farm.name}`,
        onclick: async () => {
          const value = await ask({ title: t('farms.renameTitle'), input: { label: t('farms.name'), value: farm.name }, confirm: t('common.save'), cancel: t('common.cancel') });
          if (!value) return;
          try { await api.updateFarm(farm.id, { name: value }); farmsScreen(); } catch (error) { showError(error); }
        },
      }, t('farms.rename')),
      h('button', {
        class: 'btn ghost small danger-text', type: 'button', 'aria-label': `${t('farms.delete')}: ${farm.name}`,
        onclick: async () => {
          const ok = await ask({ title: t('farms.delete'), message: t('farms.deleteConfirm', { name: farm.name }), confirm: t('common.delete'), cancel: t('common.cancel'), danger: true });
          if (!ok) return;
          try { await api.deleteFarm(farm.id); farmsScreen(); } catch (error) { showError(error); }
        },
      }, t('farms.delete'))))));
  for (const farm of farms.filter((f) => f.aoi_count > 0)) {
    api.aois(farm.id).then((aois) => {
      const thumb = list.querySelector(`[data-farm="${farm.id}"]`);
      if (thumb) thumb.innerHTML = outlineSvg(aois.items.map((a) => a.geometry));
    }).catch(() => { /* the plain thumbnail stays */ });
  }
}

/** The farm's fields as a small SVG drawing (equirectangular, north up), for its card. */
function outlineSvg(geometries) {
  const rings = geometries.flatMap((g) => (g.type === 'Polygon' ? [g.coordinates] : g.coordinates)).map((polygon) => polygon[0]);
  const points = rings.flat();
  if (points.length === 0) return '';
  const lons = points.map((p) => p[0]);
  const lats = points.map((p) => p[1]);
  const k = Math.cos((((Math.min(...lats) + Math.max(...lats)) / 2) * Math.PI) / 180);
  const [x0, x1, y0, y1] = [Math.min(...lons) * k, Math.max(...lons) * k, Math.min(...lats), Math.max(...lats)];
  const [w, h, pad] = [300, 92, 10];
  const scale = Math.min((w - 2 * pad) / (x1 - x0 || 1e-9), (h - 2 * pad) / (y1 - y0 || 1e-9));
  const ox = (w - (x1 - x0) * scale) / 2;
  const oy = (h - (y1 - y0) * scale) / 2;
  const path = rings.map((ring) => `M${ring.map(([lon, lat]) => `${(ox + (lon * k - x0) * scale).toFixed(1)},${(oy + (y1 - lat) * scale).toFixed(1)}`).join('L')}Z`).join('');
  return `<svg viewBox="0 0 ${w} ${h}" preserveAspectRatio="xMidYMid meet" width="100%" height="100%"><path d="${path}" fill="rgba(198,228,139,.55)" stroke="#f4f1de" stroke-width="2" stroke-linejoin="round"/></svg>`;
}

// ---- jobs ------------------------------------------------------------------------------------

async function jobsScreen() {
  const t = app.t;
  const body = h('tbody', {}, h('tr', {}, h('td', { colspan: 7, class: 'muted' }, t('common.loading'))));
  mount('jobs', h('div', { class: 'page' },
    h('div', { class: 'page-head' }, h('h1', {}, t('jobs.title')),
      h('button', { class: 'btn ghost', type: 'button', onclick: () => jobsScreen() }, t('jobs.refresh'))),
    h('div', { class: 'table-wrap' }, h('table', { class: 'jobs' },
      h('thead', {}, h('tr', {}, ...['jobs.type', 'jobs.field', 'jobs.status', 'jobs.attempts', 'jobs.progress', 'jobs.created', 'jobs.error']
        .map((k) => h('th', { scope: 'col', class: `col-${k.split('.')[1]}` }, t(k))))),
      body))));
  try {
    const [all, fields] = await Promise.all([api.jobs(), api.allAois()]);
    // RETENTION is the operator's housekeeping, not the farm's work.
    const jobs = { ...all, items: all.items.filter((job) => job.type !== 'RETENTION') };
    const fieldNames = new Map(fields.items.map((aoi) => [aoi.id, { name: aoi.name, farm: aoi.farm_id }]));
    if (jobs.items.length === 0) {
      body.replaceChildren(h('tr', {}, h('td', { colspan: 7, class: 'muted' }, t('jobs.empty'))));
      return;
    }
    body.replaceChildren(...jobs.items.map((job) => {
      const field = fieldNames.get(job.aoi_id);
      const retryable = ['FAILED', 'DEAD', 'CANCELLED'].includes(job.status);
      return h('tr', {},
        h('td', {}, job.week ? t('jobs.week', { key: job.week }) : t(`type.${job.type}`)),
        h('td', {}, field ? h('a', { href: `#/farms/${field.farm}/fields/${job.aoi_id}` }, field.name) : '–'),
        h('td', {}, h('span', { class: `badge status-${job.status}` }, t(`status.${job.status}`))),
        h('td', { class: 'num col-attempts' }, `${job.attempts}/${job.max_attempts}`),
        h('td', { class: 'num col-progress' }, job.progress?.total ? `${job.progress.done}/${job.progress.total}` : '–'),
        h('td', { class: 'col-created' }, formatDateTime(app.lang, job.created_at)),
        h('td', { class: 'error-cell' }, job.last_error ?? '',
          retryable && canEdit() && visibleParts(app.flags).retry ? h('button', {
            class: 'btn ghost small', type: 'button',
            onclick: async () => { try { await api.retryJob(job.id); jobsScreen(); } catch (error) { showError(error); } },
          }, t('jobs.retry')) : null));
    }));
  } catch (error) {
    body.replaceChildren(h('tr', {}, h('td', { colspan: 7, class: 'muted' }, describeError(t, error))));
  }
}

// ---- routing ---------------------------------------------------------------------------------

function route() {
  app.cleanup?.();
  app.cleanup = null;
  document.documentElement.lang = app.lang;
  document.title = 'VivaCampo';
  document.querySelector('.skip').textContent = app.t('app.skip');
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  if (!currentSession()) {
    authScreen(parts[0] === 'signup' ? 'signup' : 'signin');
    return;
  }
  const tenant = currentSession().tenant?.id ?? null;
  if (app.flagsTenant !== tenant) {
    // Signed in or switched workspace: its flags first (on error, everything shows).
    app.flagsTenant = tenant;
    app.flags = null;
    // Routes asked for meanwhile wait too: the screen is drawn once, for the latest address.
    app.flagsLoading = api.flags().then((flags) => { app.flags = flags; }, () => {}).finally(() => {
      app.flagsLoading = null;
      route();
    });
    return;
  }
  if (app.flagsLoading) return;
  if (parts[0] === 'signin' || parts[0] === 'signup' || parts.length === 0) {
    navigate('#/farms');
    return;
  }
  const signals = visibleParts(app.flags).signals;
  if (parts[0] === 'jobs') {
    jobsScreen();
  } else if (parts[0] === 'signals' && signals) {
    inboxScreen();
  } else if (parts[0] === 'settings' && signals) {
    settingsScreen();
  } else if (parts[0] === 'farms' && isId(parts[1])) {
    mount('farm');
    const field = parts[2] === 'fields' && isId(parts[3]) ? parts[3] : null;
    const signal = field && signals && parts[4] === 'signals' && isId(parts[5]) ? parts[5] : null;
    app.cleanup = renderFarm(document.getElementById('main'), parts[1], field, signal);
  } else {
    farmsScreen();
  }
}

/** What the server says about itself in the page (routes/web.rs): `<meta name="vivacampo-…">`. */
export function serverHint(name) {
  return document.querySelector(`meta[name="vivacampo-${name}"]`)?.content ?? null;
}

/** The demo account, when the server runs `vivacampo demo` (it names it in the page). */
function demoHint(t) {
  const [email, password] = [serverHint('demo-email'), serverHint('demo-password')];
  if (!email || !password) return null;
  return h('p', { class: 'hint demo' }, t('auth.demoHint'), ' ', h('strong', {}, `${email} / ${password}`));
}

/** Ids in the address are UUIDs; anything else never reaches an API path. */
function isId(value) {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value ?? '');
}

window.addEventListener('hashchange', route);
route();
