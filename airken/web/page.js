() => {
  // The page script (airken.web.ui loads it once, with the upload cap filled in). It names
  // pictures for screen readers, stops files the app would refuse before Gradio uploads them
  // (its own error is a toast that vanishes) and shows the app's message in the card instead,
  // and holds the small functions that events call (window.ak*).
  const cap = __MAX_BYTES__;
  const boxes = {'ak-photo': 'ak-photo-refused', 'ak-batch-files': 'ak-batch-refused'};
  // What a photo upload may be: an image type, or an extension browsers leave untyped (HEIC).
  const photoLike = f => (f.type || '').startsWith('image/') || /\.(heic|heif|avif|tiff?)$/i.test(f.name || '');
  const card = document.getElementById('ak-verdict');
  if (card) { card.setAttribute('aria-live', 'polite'); card.setAttribute('aria-atomic', 'true'); }
  const alts = {'ak-photo': 'Your photo of the sky', 'ak-your-photo': 'Your photo, as Airken read it',
                'ak-haze': 'Haze map of your photo: blue is a clear view, yellow more haze'};
  new MutationObserver(() => {
    for (const [id, alt] of Object.entries(alts)) {
      document.querySelectorAll('#' + id + ' img:not([alt]), #' + id + ' img[alt=""]')
        .forEach(img => img.setAttribute('alt', alt));
    }
    // An empty upload box is named by the words it shows, not Gradio's own (WCAG 2.5.3).
    document.querySelectorAll('button.upload-container[aria-label]').forEach(btn => {
      const text = btn.innerText.trim().replace(/\s+/g, ' ');
      if (text && btn.getAttribute('aria-label') !== text) btn.setAttribute('aria-label', text);
    });
    // Example thumbnails: the caption names the button, so the picture itself is decorative.
    document.querySelectorAll('#ak-examples button[aria-label^="Thumbnail"]').forEach(btn => {
      const caption = btn.innerText.trim();
      if (caption) { btn.setAttribute('aria-label', caption); btn.querySelectorAll('img').forEach(i => i.alt = ''); }
    });
    // Wide tables scroll sideways on a phone (WCAG 1.4.10 allows it for data tables) in a
    // region a keyboard can reach, instead of breaking words or running off the screen.
    document.querySelectorAll('.ak-about table, #ak-batch-table table').forEach(table => {
      if (table.parentElement.classList.contains('ak-scroll')) return;
      const region = document.createElement('div');
      region.className = 'ak-scroll';
      region.tabIndex = 0;
      region.setAttribute('role', 'region');
      region.setAttribute('aria-label', 'Table, scrolls sideways');
      table.replaceWith(region);
      region.appendChild(table);
    });
    // A file box holding files shows Gradio's "add more" upload button inside another button,
    // named "common.upload" (WCAG 4.1.2): the outer one becomes a named group out of the tab
    // order, so the keyboard and screen readers meet the one real button.
    document.querySelectorAll('button.icon-button:has(> div > button.upload-container)').forEach(outer => {
      if (outer.getAttribute('role') === 'group') return;
      outer.setAttribute('role', 'group');
      outer.tabIndex = -1;
      outer.setAttribute('aria-label', 'Add more files');
      outer.title = 'Add more files';
      outer.querySelector('button.upload-container').setAttribute('aria-label', 'Add more files: choose or drop them');
    });
    // The API page's MCP tab: this app does not serve MCP (it would fetch URLs it is given).
    document.querySelectorAll('.snippets li').forEach(li => {
      if (li.textContent.trim() === 'MCP') li.style.display = 'none';
    });
  }).observe(document.body, {childList: true, subtree: true});
  const refuse = (ev, files) => {
    const box = ev.target.closest && ev.target.closest(Object.keys(boxes).map(id => '#' + id).join(','));
    const list = Array.from(files || []);
    const bad = box && (list.find(f => f.size > cap) || (box.id === 'ak-photo' && list.find(f => !photoLike(f))));
    if (!bad) return;
    ev.preventDefault(); ev.stopImmediatePropagation();
    if (ev.target.type === 'file') ev.target.value = '';
    window.akRefused = {size: bad.size, name: bad.name || '', type: bad.type || ''};
    document.getElementById(boxes[box.id]).click();
  };
  // The card's "Tell Airken where and when the photo was taken" link: the place form into view,
  // the cursor in its town box (a link, so Enter from the keyboard does the same).
  document.addEventListener('click', ev => {
    const link = ev.target.closest && ev.target.closest('a.ak-to-place');
    const town = link && document.querySelector('#ak-where-town textarea, #ak-where-town input');
    if (!town) return;
    ev.preventDefault();
    document.getElementById('ak-where').scrollIntoView({behavior: 'smooth', block: 'center'});
    town.focus({preventScroll: true});
  });
  document.addEventListener('change', ev => refuse(ev, ev.target.files), true);
  document.addEventListener('drop', ev => refuse(ev, ev.dataTransfer && ev.dataTransfer.files), true);
  // Events: the refused file's size and name; the browser's position, rounded to 0.1 degree
  // here, so the exact position never leaves the visitor's machine; the verdict into view.
  window.akRefusedFile = () => [window.akRefused ? JSON.stringify(window.akRefused) : ''];
  window.akLocate = async (...rest) => {
    const at = await new Promise(resolve => {
      if (!navigator.geolocation) { resolve(null); return; }
      navigator.geolocation.getCurrentPosition(
        p => resolve([Math.round(p.coords.latitude * 10) / 10, Math.round(p.coords.longitude * 10) / 10]),
        () => resolve(null), {enableHighAccuracy: false, maximumAge: 600000, timeout: 20000});
    });
    return [...(at || [null, null]), ...rest.slice(2)];
  };
  window.akShowVerdict = () => setTimeout(() => {
    const shown = document.querySelector('#ak-verdict [data-label]');
    if (shown && window.innerWidth < 800) shown.scrollIntoView({behavior: 'smooth', block: 'start'});
  }, 80);
  window.akReady = true;  // the listeners above are in place (the browser tests wait for this)
}
