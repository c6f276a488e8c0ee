// The merchant's devices and cold-chain alarms (docs/devices.md): each device with its GIAI, kind,
// status, last message and refused batches, and a revoke button (the revocation is a transaction on
// DeviceRegistry signed here, like every write; the broker then refuses and cuts the device off);
// each alarm about the merchant's products or from its devices, with the orders put on hold, and a
// close button for an open one.
import { $, T, api, button, fill, rows, say, when, write } from './common.js';

async function loadDevices() {
  const devices = await api('/v1/devices');
  rows('devices', devices, (d) => {
    const status = d.revoked_at ? `${T.device_revoked} ${when(d.revoked_at)}` : T.device_active;
    if (d.revoked_at) return [d.giai, d.kind, status, when(d.last_seen_at), String(d.refused)];
    const revoke = button(T.device_revoke, `${T.device_revoke} ${d.giai}`, async () => {
      const reason = $('devices-reason').value.trim();
      if (!reason) { say('devices-status', T.revoke_needs_reason, true); $('devices-reason').focus(); return; }
      try {
        await write(`/v1/devices/${d.device_id}/revoke`, { reason });
        say('devices-status', `${T.done}${d.giai} ${T.device_revoked}`);
        await loadDevices();
      } catch (err) { say('devices-status', T.error + err.message, true); }
    });
    revoke.className = 'danger';
    const box = document.createElement('span'); box.append(`${status} `, revoke);
    return [d.giai, d.kind, box, when(d.last_seen_at), String(d.refused)];
  }, T.devices_none);
}

async function loadAlarms(need) {
  const alarms = await api('/v1/devices/alarms');
  const open = alarms.filter((a) => a.status === 'open' && a.recorder_authorised);
  need('alarms', open.length ? [fill(T.attn_alarms, { n: open.length }), '#task-devices'] : null);
  rows('alarms', alarms, (a) => {
    const held = a.recorder_authorised ? a.orders_on_hold.join(', ') : T.alarm_unauthorised;
    const lot = a.gtin ? `${a.gtin} / ${a.lot}` : a.subject;
    const range = `${a.min_c} … ${a.max_c} °C`;
    if (a.status !== 'open') return [lot, a.device, range, when(a.first_at), held, T.alarm_closed];
    const close = button(T.alarm_close, `${T.alarm_close} #${a.id}`, async () => {
      try {
        await api(`/v1/devices/alarms/${a.id}/close`, { method: 'POST' });
        say('devices-status', `${T.done}#${a.id} ${T.alarm_closed}`);
        await loadAlarms(need);
      } catch (err) { say('devices-status', T.error + err.message, true); }
    });
    close.className = 'secondary';
    const box = document.createElement('span'); box.append(`${T.alarm_open} `, close);
    return [lot, a.device, range, when(a.first_at), held, box];
  });
}

export function wireDevices(need) {
  loadDevices().catch((err) => say('devices-status', T.error + err.message, true));
  loadAlarms(need).catch((err) => say('devices-status', T.error + err.message, true));
}
