// A party (several people in one booking): the people who come with the first person, each a
// fieldset with their procedure, who comes for them (applicant type), their name and kana and,
// when not the holder, the representative's name. "Add a person" up to the counter's
// max_party_size in all, "remove" on each. The resident form (verify) and the phone console use
// it; each page's dictionary has the `party.*` words. Field ids are `<prefix>party[i].<field>`,
// the names the server gives its problems (`party[0].name_kana`), so a problem lands next to
// its field.

import { h, replace, focusTo } from './dom.js';

const APPLICANTS = ['holder', 'legal_representative', 'voluntary_proxy'];

export class PartyEditor {
  /**
   * el: where the list and its button go; t: the page's words; procedures: [{id, label}];
   * max: people in all (the first person too); prefix: the form's id prefix ('f-', 'p-');
   * defaults: a new person's procedure and applicant type; onChange(count): after add/remove.
   */
  constructor(el, { t, procedures, max, prefix = 'f-', defaults = {}, onChange = () => {} }) {
    Object.assign(this, { el, t, procedures, max, prefix, defaults, onChange });
    this.people = [];
    this.list = h('div', { class: 'party-list', 'data-testid': 'party-list' });
    this.addBtn = h('button', { type: 'button', class: 'btn secondary small', 'data-testid': 'party-add', onclick: () => this.add(null, true) });
    this.note = h('p', { class: 'hint', 'data-testid': 'party-note' });
    replace(el, this.list, this.note, this.addBtn);
    this.render();
  }

  /** The people beside the first person, as the API takes them. */
  values() {
    return this.people.map((p) => {
      const get = (f) => (p.fields[f].value || '').trim();
      const applicant = get('applicant_type');
      return {
        procedure: get('procedure'),
        applicant_type: applicant,
        name: get('name'),
        name_kana: get('name_kana'),
        representative_name: applicant !== 'holder' ? get('representative_name') || undefined : undefined,
      };
    });
  }

  count() { return this.people.length; }

  /** The summary's label of each field (`party[i].name`: "2人目: お名前"). */
  labels(base) {
    const out = {};
    this.people.forEach((_, i) => {
      for (const f of ['procedure', 'applicant_type', 'name', 'name_kana', 'representative_name']) {
        out[`party[${i}].${f}`] = `${this.t('party.person', { n: i + 2 })}: ${base[f] || f}`;
      }
    });
    return out;
  }

  /** Adds a person (with `values`, or the defaults); `focus`: their first field takes focus. */
  add(values, focus = false) {
    if (this.people.length + 1 >= this.max) return;
    const v = values || {};
    const fields = {};
    const i = this.people.length;
    const id = (f) => `${this.prefix}party[${i}].${f}`;
    fields.procedure = h('select', { id: id('procedure'), required: true, 'aria-required': 'true' },
      h('option', { value: '' }, this.t('party.choose')),
      this.procedures.map((p) => h('option', { value: p.id, selected: p.id === (v.procedure || this.defaults.procedure) }, p.label)));
    fields.applicant_type = h('select', { id: id('applicant_type'), 'aria-required': 'true' },
      APPLICANTS.map((a) => h('option', { value: a, selected: a === (v.applicant_type || this.defaults.applicant_type || 'holder') }, this.t('applicant.' + a))));
    fields.name = h('input', { type: 'text', id: id('name'), maxlength: 50, autocomplete: 'off', value: v.name || '', 'aria-required': 'true' });
    fields.name_kana = h('input', { type: 'text', id: id('name_kana'), maxlength: 60, autocomplete: 'off', value: v.name_kana || '', 'aria-required': 'true' });
    fields.representative_name = h('input', { type: 'text', id: id('representative_name'), maxlength: 50, autocomplete: 'name', value: v.representative_name || '' });
    const person = { fields };
    person.repField = this.field(id('representative_name'), 'party.representative_name', fields.representative_name);
    const showRep = () => { person.repField.hidden = fields.applicant_type.value === 'holder'; };
    fields.applicant_type.addEventListener('change', showRep);
    person.el = h('fieldset', { class: 'party-person', 'data-testid': 'party-person' },
      h('legend', null),
      this.field(id('procedure'), 'party.procedure', fields.procedure),
      this.field(id('applicant_type'), 'party.applicant_type', fields.applicant_type),
      this.field(id('name'), 'party.name', fields.name),
      this.field(id('name_kana'), 'party.name_kana', fields.name_kana),
      person.repField,
      h('button', { type: 'button', class: 'btn quiet small', 'data-testid': 'party-remove', onclick: () => this.remove(person) }));
    showRep();
    this.people.push(person);
    this.list.append(person.el);
    this.render();
    this.onChange(this.count());
    if (focus) fields.procedure.focus();
  }

  /** Takes a person out; the others keep what was typed (renumbered). */
  remove(person) {
    const kept = this.people.filter((p) => p !== person).map((p) => this.valuesOf(p));
    this.people = [];
    replace(this.list);
    for (const v of kept) this.add(v);
    this.render();
    this.onChange(this.count());
    focusTo(this.addBtn.hidden ? this.el : this.addBtn);
  }

  valuesOf(p) {
    return Object.fromEntries(Object.entries(p.fields).map(([k, el]) => [k, el.value]));
  }

  field(id, key, control) {
    return h('div', { class: 'field' }, h('label', { for: id }, this.t(key)), control);
  }

  render() {
    this.people.forEach((p, i) => {
      p.el.querySelector('legend').textContent = this.t('party.person', { n: i + 2 });
      p.el.querySelector('[data-testid="party-remove"]').textContent = this.t('party.remove', { n: i + 2 });
    });
    this.addBtn.textContent = this.t('party.add');
    this.addBtn.hidden = this.people.length + 1 >= this.max;
    this.note.textContent = this.t('party.note', { max: this.max });
  }
}
