// The console's one script: it makes some parts of the pages live. Every
// page and form works without it; the server renders every part (this
// script only asks for fragments of the page and puts them in place).
//
//  - [data-live="URL"]: refreshed every few seconds (body's
//    data-live-every, ms) with the fragment URL answers: each element of the
//    fragment marked data-swap replaces the page's element of the same id,
//    when it changed (so focus is never lost to an unchanged part);
//  - form[data-action-target]: sent without leaving the page, the answer
//    put in the target (a role=status region);
//  - form[data-preview]: the preview refreshed as the form is edited;
//  - [data-when-input]: shown only while the named input has one of the
//    listed values (hidden inputs are disabled, so not sent);
//  - the summary of a form's problems gets the focus.
(() => {
  'use strict';
  const headers = { 'X-Console-Fragment': '1' };
  const status = () => document.getElementById('live-status');

  function say(text) {
    const s = status();
    if (!s) return;
    s.textContent = text;
    s.hidden = text === '';
  }

  // answered: the text of a fragment, or null when the session ended or
  // the server refused (then the live parts stop).
  async function fetchPart(url, init) {
    const res = await fetch(url, Object.assign({ credentials: 'same-origin', headers }, init));
    if (res.redirected && new URL(res.url).pathname.endsWith('/console/login')) {
      say('Your session has ended: reload the page to sign in again.');
      return null;
    }
    if (!res.ok) {
      say('Live updates paused: the server answered ' + res.status + '.');
      return res.status >= 500 ? '' : null;
    }
    return res.text();
  }

  function swap(html) {
    const t = document.createElement('template');
    t.innerHTML = html;
    for (const el of t.content.querySelectorAll('[data-swap][id]')) {
      const cur = document.getElementById(el.id);
      if (cur && cur.outerHTML !== el.outerHTML) cur.replaceWith(el);
    }
  }

  function live(el) {
    const every = Number(document.body.dataset.liveEvery) || 2000;
    const url = el.dataset.live;
    let stopped = false;
    async function tick() {
      if (stopped) return;
      if (!document.hidden) {
        try {
          const html = await fetchPart(url);
          if (html === null) { stopped = true; return; }
          if (html !== '') { swap(html); say(''); }
        } catch (e) {
          say('Live updates paused: the server cannot be reached.');
        }
      }
      setTimeout(tick, every);
    }
    setTimeout(tick, every);
  }

  function formBody(form, submitter) {
    const data = new FormData(form);
    if (submitter && submitter.name) data.set(submitter.name, submitter.value);
    return new URLSearchParams(data);
  }

  function actionForm(form) {
    form.addEventListener('submit', async (ev) => {
      const target = document.getElementById(form.dataset.actionTarget);
      if (!target) return;
      ev.preventDefault();
      const button = ev.submitter;
      if (button) button.disabled = true;
      target.textContent = 'Working…';
      try {
        const html = await fetchPart(form.action, { method: 'POST', body: formBody(form, button) });
        target.innerHTML = html === null ? '' : html;
      } catch (e) {
        target.textContent = 'The server cannot be reached.';
      } finally {
        if (button) button.disabled = false;
      }
    });
  }

  function previewForm(form) {
    const target = document.getElementById(form.dataset.previewTarget);
    if (!target) return;
    let timer = 0;
    let seq = 0;
    async function refresh() {
      const mine = ++seq;
      try {
        const html = await fetchPart(form.dataset.preview, { method: 'POST', body: formBody(form) });
        if (mine === seq && html !== null) target.innerHTML = html;
      } catch (e) {
        target.textContent = 'The preview cannot be shown: the server cannot be reached.';
      }
    }
    const later = () => { clearTimeout(timer); timer = setTimeout(refresh, 400); };
    form.addEventListener('input', later);
    form.addEventListener('change', later);
    const button = document.getElementById('preview-button');
    if (button) button.addEventListener('click', (ev) => { ev.preventDefault(); refresh(); });
    refresh();
  }

  function conditional(root) {
    const parts = root.querySelectorAll('[data-when-input]');
    if (parts.length === 0) return;
    const apply = () => {
      for (const el of parts) {
        const input = root.querySelector('[name="' + CSS.escape(el.dataset.whenInput) + '"]');
        if (!input) continue;
        let values = [];
        try { values = JSON.parse(el.dataset.whenValues); } catch (e) { continue; }
        const shown = values.includes(input.value);
        el.hidden = !shown;
        for (const i of el.querySelectorAll('input, select, textarea')) i.disabled = !shown;
      }
    };
    root.addEventListener('change', apply);
    apply();
  }

  document.addEventListener('DOMContentLoaded', () => {
    for (const el of document.querySelectorAll('[data-live]')) live(el);
    for (const f of document.querySelectorAll('form[data-action-target]')) actionForm(f);
    for (const f of document.querySelectorAll('form[data-preview]')) previewForm(f);
    for (const f of document.querySelectorAll('form')) conditional(f);
    const summary = document.getElementById('error-summary');
    if (summary) summary.focus();
  });
})();
