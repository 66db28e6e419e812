// The base map under the fields: the operator's choice (the server's `basemap` setting, named in
// the page by routes/web.rs when it is not OpenStreetMap), which the user can still turn off.

export const OSM_TILES = 'https://tile.openstreetmap.org/{z}/{x}/{y}.png';

/**
 * The operator's base map (the `basemap` setting; the page names it when it is not
 * OpenStreetMap): a tile URL template, or null when the server turned base maps off.
 */
export function serverBasemap(hint) {
  if (hint === 'none') return null;
  return hint || OSM_TILES;
}

/** The base map's attribution: OpenStreetMap's, or the tile server's host name as text. */
export function basemapAttribution(url) {
  if (url === OSM_TILES) return '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a>';
  const host = /^https?:\/\/([^/]+)/.exec(url)?.[1] ?? '';
  return host.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
