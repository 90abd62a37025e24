from django import forms

from govportal.models import Complaint

_CLASSES = {forms.Select: "govuk-select", forms.Textarea: "govuk-textarea",
            forms.ClearableFileInput: "govuk-file-upload", forms.FileInput: "govuk-file-upload"}


class ComplaintForm(forms.ModelForm):
    class Meta:
        model = Complaint
        fields = ["kind", "name", "email", "subject", "message", "attachment"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():  # GOV.UK Frontend's classes on the widgets
            field.widget.attrs["class"] = _CLASSES.get(type(field.widget), "govuk-input")
