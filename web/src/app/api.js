// The HTTP API (see API.md): JSON in and out, the Bearer token of the session, errors as
// ApiError carrying the server's {code, message, details}. A 401 on an authenticated call means
// the session is over; the app listens for `onExpired` and returns to the sign-in screen.

const SESSION_KEY = 'vivacampo.session';

export class ApiError extends Error {
  constructor(status, body) {
    const error = body?.error ?? {};
    super(error.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = error.code ?? (status === 0 ? 'OFFLINE' : 'HTTP_ERROR');
    this.details = error.details ?? {};
    this.requestId = error.request_id ?? null;
  }
}

let session = null;
try {
  session = JSON.parse(localStorage.getItem(SESSION_KEY) ?? 'null');
} catch {
  session = null;
}
let expiredListener = () => {};

export function currentSession() {
  return session;
}

export function setSession(login) {
  session = login ? {
    token: login.token,
    expires_at: login.expires_at,
    identity: login.identity,
    tenant: login.tenant,
    memberships: login.memberships ?? [],
  } : null;
  if (session) localStorage.setItem(SESSION_KEY, JSON.stringify(session));
  else localStorage.removeItem(SESSION_KEY);
}

/** The member's role in the current workspace (null when signed out). */
export function currentRole() {
  return session?.tenant?.role ?? null;
}

/** Whether the current role may change farms, fields and jobs (VIEWERs only read). */
export function canEdit() {
  return Boolean(session) && session.tenant?.role !== 'VIEWER';
}

export function onExpired(listener) {
  expiredListener = listener;
}

export async function request(method, path, body, { auth = true, lang = null } = {}) {
  const headers = { accept: 'application/json' };
  // Signals are written in the caller's language (API.md): the app's, not the browser's.
  if (lang) headers['accept-language'] = lang;
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (auth && session) headers.authorization = `Bearer ${session.token}`;
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, { error: { code: 'OFFLINE', message: 'network error' } });
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!response.ok) {
    const error = new ApiError(response.status, json);
    if (response.status === 401 && auth && session) {
      setSession(null);
      expiredListener();
    }
    throw error;
  }
  return json;
}

/** A binary download (the week's GeoTIFF) with the session's token. */
async function download(path) {
  const response = await fetch(path, { headers: session ? { authorization: `Bearer ${session.token}` } : {} });
  if (!response.ok) {
    const body = await response.json().catch(() => null);
    if (response.status === 401 && session) {
      setSession(null);
      expiredListener();
    }
    throw new ApiError(response.status, body);
  }
  return response.blob();
}

export const api = {
  signup: (body) => request('POST', '/v1/auth/signup', body, { auth: false }),
  login: (email, password) => request('POST', '/v1/auth/login', { email, password }, { auth: false }),
  logout: () => request('POST', '/v1/auth/logout'),
  switchWorkspace: (tenantId) => request('POST', '/v1/auth/workspaces/switch', { tenant_id: tenantId }),
  me: () => request('GET', '/v1/me'),
  flags: () => request('GET', '/v1/flags'),
  farms: () => request('GET', '/v1/farms?page_size=200'),
  farm: (id) => request('GET', `/v1/farms/${id}`),
  createFarm: (name) => request('POST', '/v1/farms', { name }),
  updateFarm: (id, body) => request('PATCH', `/v1/farms/${id}`, body),
  deleteFarm: (id) => request('DELETE', `/v1/farms/${id}`),
  aois: (farmId) => request('GET', `/v1/aois?farm_id=${encodeURIComponent(farmId)}&page_size=200`),
  anyAoi: () => request('GET', '/v1/aois?page_size=1'),
  allAois: () => request('GET', '/v1/aois?page_size=200'),
  aoi: (id) => request('GET', `/v1/aois/${id}`),
  createAoi: (body) => request('POST', '/v1/aois', body),
  updateAoi: (id, body) => request('PATCH', `/v1/aois/${id}`, body),
  deleteAoi: (id) => request('DELETE', `/v1/aois/${id}`),
  weeks: (id) => request('GET', `/v1/aois/${id}/weeks`),
  raster: (id, year, week) => download(`/v1/aois/${id}/weeks/${year}/${week}/raster.tif`),
  history: (id, index) => request('GET', `/v1/aois/${id}/history?index=${index}&compare=previous_season`),
  jobs: (query = '') => request('GET', `/v1/jobs?page_size=50${query}`),
  retryJob: (id) => request('POST', `/v1/jobs/${id}/retry`),
  indices: () => request('GET', '/v1/indices'),
  signals: (query, lang) => request('GET', `/v1/signals?page_size=200${query}`, undefined, { lang }),
  signal: (id, lang) => request('GET', `/v1/signals/${id}`, undefined, { lang }),
  signalAction: (id, action, body, lang) => request('POST', `/v1/signals/${id}/${action}`, body, { lang }),
  notifications: () => request('GET', '/v1/me/notifications'),
  saveNotifications: (body) => request('PUT', '/v1/me/notifications', body),
  webhooks: () => request('GET', '/v1/webhooks'),
  createWebhook: (body) => request('POST', '/v1/webhooks', body),
  deleteWebhook: (id) => request('DELETE', `/v1/webhooks/${id}`),
  testWebhook: (id) => request('POST', `/v1/webhooks/${id}/test`),
  deliveries: (id) => request('GET', `/v1/webhooks/${id}/deliveries`),
  tileJson: (aoiId, index, year, week) => request('GET', `/v1/tiles/aois/${aoiId}/tilejson.json?index=${index}&year=${year}&week=${week}`),
};
